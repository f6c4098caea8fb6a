"""Console test fixtures: the real app served by uvicorn on a free port, and a real headless Chromium.

`live_server(**overrides)` starts `main.create_app(settings)` (lifespan, job runner and all) under a
`uvicorn.Server` running as a task on the test's own (session) event loop, on a free 127.0.0.1 port,
with the `make_settings` settings plus the overrides. It answers an object with `base_url`,
`settings` and `app` (so a test can use `app.state.database` directly: same loop). Because the server
shares the test's loop, a test must only await (Playwright's async API, `httpx.AsyncClient`): a
blocking call such as `httpx.get` or `time.sleep` would stall the server it is waiting for.

The browser is Debian's `/usr/bin/chromium` driven by Playwright's async API with `executable_path`
(never a downloaded browser), one per session; `page` is a fresh context per test. A failed test's
last page is saved as `.build/test-screenshots/<test>.png` and the path is added to its report.

The axe-core helper, `serious_violations(page)`, lives in `tests/console/accessibility.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from shared.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".build" / "test-screenshots"


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    app: Any

    def url(self, path: str) -> str:
        return self.base_url + path


class _Server(uvicorn.Server):
    # pytest owns the process's signals; the server is stopped through `should_exit`.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
async def live_server(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Awaitable[LiveServer]]]:
    """A factory: `await live_server(**settings_overrides)` → a running app at `base_url`."""
    from main import create_app

    running: list[tuple[_Server, asyncio.Task[None]]] = []

    async def start(**overrides: Any) -> LiveServer:
        settings = make_settings(**overrides)
        app = create_app(settings)
        sock = _free_socket()
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=2, ws="none"
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        running.append((server, task))
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                if task.done():
                    task.result()
                    raise AssertionError("the console's server stopped while starting")
                if server.started:
                    # Any answer will do: /health may well say 503 for a test's missing Fabric API.
                    with contextlib.suppress(httpx.HTTPError):
                        await http.get(base_url + "/health")
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"the console's server did not answer at {base_url} within 15 s")
        return LiveServer(base_url=base_url, settings=settings, app=app)

    yield start
    for server, _ in running:
        server.should_exit = True
    for _, task in reversed(running):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)


@pytest.fixture(scope="session")
async def viewer_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MEDIA_ROOTS folder with the viewer tests' short clips (`viewer_support.MEDIA`), made once."""
    from tests.console.viewer_support import make_media

    root = tmp_path_factory.mktemp("viewer-media")
    await asyncio.to_thread(make_media, root)
    return root


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download, ever)."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 - once per session, before any server runs
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package (CI does) to run the console tests")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        # --no-sandbox: CI and this machine run the tests as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield launched
        await launched.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so the `page` fixture knows whether its test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)
    if report.when == "call" and report.failed and "page" in getattr(item, "fixturenames", ()):
        report.sections.append(("screenshot", str(screenshot_path(item))))


def screenshot_path(item: pytest.Item) -> Path:
    return SCREENSHOTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name) + ".png")


@pytest.fixture
async def page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A page in a fresh browser context; on failure its screenshot is saved and its path printed."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    opened = await context.new_page()
    yield opened
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not opened.is_closed():
        path = screenshot_path(request.node)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):  # a crashed page must not hide the test's own failure
            await opened.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the failed test: {path}", file=sys.stderr)
    await context.close()
