"""axe-core on every console page in Chromium: no violation of impact serious or critical.

axe comes from the pinned `axe-playwright-python` package (tests/console/accessibility.py). Each page
is checked with real content: a completed export with a proxy and one without, an unknown id; the
login page with its error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.accessibility import describe, serious_violations
from tests.console.viewer_support import MEDIA, REPO, catalog_events, export_order, run_export

KEY = "accessibility-key-1"

PAGES = [
    pytest.param("/console", id="overview"),
    pytest.param("/console/jobs", id="jobs"),
    pytest.param(f"/console/jobs?repo_guid={REPO}&status=completed", id="jobs-filtered"),
    pytest.param("/console/jobs/export/{spark_id}", id="job-detail"),
    pytest.param("/console/jobs/export/{missing_id}", id="job-missing"),
    pytest.param("/console/replicas", id="replicas"),
    pytest.param("/console/spark/{spark_id}", id="viewer"),
    pytest.param("/console/spark/{ruler_id}", id="viewer-ruler"),
    pytest.param("/console/spark/{missing_id}", id="viewer-missing"),
]


@pytest.fixture
async def console_with_jobs(live_server: Any, catalog: Any, viewer_media: Path) -> tuple[Any, dict[str, str]]:
    """A console with a completed export with a proxy, one without, and an unknown id."""
    server = await live_server(media_roots=[viewer_media])
    media = MEDIA[0]
    await catalog.insert_many(catalog_events("/" + media.relative))
    await catalog.insert_many(catalog_events("/clips/no-proxy.mov"))
    with_proxy = await run_export(
        server.base_url, export_order("/" + media.relative, media.rate, media.start_timecode, proxy=True)
    )
    ruler = await run_export(server.base_url, export_order("/clips/no-proxy.mov", "25", "10:00:00:00", proxy=False))
    ids = {
        "spark_id": with_proxy["spark_id"],
        "ruler_id": ruler["spark_id"],
        "missing_id": "00000000-0000-4000-8000-000000000000",
    }
    return server, ids


@pytest.mark.parametrize("path", PAGES)
async def test_no_serious_accessibility_violation(console_with_jobs: Any, page: Any, path: str) -> None:
    server, ids = console_with_jobs
    response = await page.goto(server.url(path.format(**ids)))
    assert response is not None and response.status in (200, 404), response.status
    await page.wait_for_load_state("networkidle")
    if await page.locator("#viewer-config").count():
        await page.wait_for_function("document.body.dataset.viewerReady === 'true'")
    assert await page.title()
    assert await page.locator("h1").count() == 1
    violations = await serious_violations(page)
    assert not violations, describe(violations)


async def test_no_serious_accessibility_violation_on_the_login_page(live_server: Any, page: Any) -> None:
    server = await live_server(api_keys=[KEY])
    await page.goto(server.url("/console"))
    assert page.url.startswith(server.url("/console/login"))
    violations = await serious_violations(page)
    assert not violations, describe(violations)
    # And with the error a wrong key shows.
    await page.get_by_label("API key").fill("not-a-key")
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()
    violations = await serious_violations(page)
    assert not violations, describe(violations)
