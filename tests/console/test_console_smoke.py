"""The browser fixtures themselves: the real app on a port, Chromium loading a console page."""

from __future__ import annotations

from typing import Any

from tests.console.accessibility import serious_violations
from tests.console.conftest import SCREENSHOTS


async def test_chromium_loads_the_console_overview(live_server: Any, page: Any) -> None:
    server = await live_server()
    response = await page.goto(server.url("/console"))
    assert response is not None and response.status == 200
    assert "AI Spark console" in await page.title()
    assert await page.locator("h1").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "smoke-console.png"
    await page.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
    assert isinstance(await serious_violations(page), list)


async def test_the_axe_helper_finds_a_serious_violation(live_server: Any, page: Any) -> None:
    server = await live_server()
    await page.goto(server.url("/console"))
    await page.set_content('<!doctype html><html lang="en"><title>t</title><main><img src="x.png"></main></html>')
    assert "image-alt" in {violation["id"] for violation in await serious_violations(page)}
