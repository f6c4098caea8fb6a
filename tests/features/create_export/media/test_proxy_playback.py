"""The proxy plays in a real browser: headless Chromium (Debian's, driven by Playwright) loads it into a
`<video>`, which must reach HAVE_CURRENT_DATA and report the media's duration."""

from __future__ import annotations

from fractions import Fraction

import httpx
import pytest
from playwright.async_api import async_playwright

from tests.features.create_export.media.support import events_for, run_export

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it); never `playwright install`
PLAYED = """() => {
  const video = document.getElementById('proxy');
  if (video.error) return {error: video.error.code};
  return video.readyState >= 2 ? {readyState: video.readyState, duration: video.duration} : null;
}"""


@pytest.mark.parametrize("name", ["23.976-tc01", "59.94NDF"])
async def test_the_proxy_plays_in_headless_chromium(make_settings, app_factory, media_root, media_files, catalog, name):
    fixture, _ = media_files[name]
    settings = make_settings(media_roots=[media_root])
    app = await app_factory(settings)
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))
    order = {
        "repo_guid": "media-repo",
        "inputs": {"full_path": full_path},
        "user_inputs": {"llm_instructions": False},
        "media": {"include_full_proxy": True},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        job = await run_export(client, order)
    assert job["status"] == "completed", job
    (proxy,) = [a for a in job["manifest"]["artifacts"] if a["artifact_type"] == "proxy"]
    path = settings.export_base_path / job["spark_id"] / proxy["path"]

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(path.parent.as_uri() + "/")
            await page.set_content(f'<video id="proxy" src="{path.as_uri()}" muted preload="auto"></video>')
            state = await (await page.wait_for_function(PLAYED, timeout=30_000)).json_value()
        finally:
            await browser.close()

    assert "error" not in state, state
    assert state["readyState"] >= 2
    expected = Fraction(fixture.frames) / fixture.rate
    assert abs(Fraction(state["duration"]) - expected) <= 1 / fixture.rate + Fraction(1, 100)
