"""The README's console screenshots, taken by the tests' own browser from a real export.

Each run takes them into the test's temporary folder; with `AI_SPARK_WRITE_SCREENSHOTS=1` they
replace `docs/console-*.png` (how the committed ones were made):

    AI_SPARK_WRITE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/console/test_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from tests.console.test_viewer import READY
from tests.console.viewer_support import MEDIA, catalog_events, export_order, run_export
from tests.support import wait_until_finished

DOCS = Path(__file__).resolve().parents[2] / "docs"
WRITE = os.environ.get("AI_SPARK_WRITE_SCREENSHOTS") == "1"


async def keep(shot: Path) -> None:
    assert shot.stat().st_size > 10_000  # noqa: ASYNC240 - a small local file
    if WRITE:
        await asyncio.to_thread(shutil.copyfile, shot, DOCS / shot.name)


async def test_screenshots_of_the_console(
    live_server: Any, page: Any, catalog: Any, viewer_media: Path, tmp_path: Path
) -> None:
    media = MEDIA[0]
    server = await live_server(media_roots=[viewer_media])
    full_path = "/" + media.relative
    await catalog.insert_many(catalog_events(full_path))
    job = await run_export(server.base_url, export_order(full_path, media.rate, media.start_timecode, proxy=True))

    await page.goto(server.url(f"/console/spark/{job['spark_id']}"))
    await page.wait_for_function(READY)
    await page.wait_for_function("document.getElementById('proxy').readyState >= 2")
    await page.locator("#list-markers button.entry").nth(1).click()
    await page.wait_for_function("!document.getElementById('proxy').seeking")
    await page.wait_for_timeout(300)  # the seeked frame painted
    viewer = tmp_path / "console-viewer.png"
    await page.screenshot(path=str(viewer), full_page=True)
    await keep(viewer)

    # A few more jobs, so the overview has something to count: small exports and one that cannot run.
    for _ in range(3):
        await run_export(server.base_url, export_order(full_path, media.rate, media.start_timecode, proxy=False))
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        order = export_order("/demo/missing.mov", media.rate, media.start_timecode, proxy=True)
        failing = (await client.post("/spark", json=order)).json()
        await wait_until_finished(client, f"/spark/{failing['spark_id']}/status")
    await page.goto(server.url("/console"))
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(2500)  # one poll of the live numbers
    overview = tmp_path / "console-overview.png"
    await page.screenshot(path=str(overview), full_page=True)
    await keep(overview)
