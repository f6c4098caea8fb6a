"""The package viewer in a real Chromium: a real export (ffmpeg proxy, WebVTT tracks) played in the page.

Independent checks: the cue count comes from the VTT file read by `webvtt-py`; the timecode shown for
a marker must equal the `startTimecode` the package's own JSON writer computed; the viewer's timecode
arithmetic is compared with the `timecode` package frame by frame across minute and ten-minute turns.
"""

from __future__ import annotations

import asyncio
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import webvtt
from timecode import Timecode

from tests.console.viewer_support import (
    HOSTILE,
    MARKS,
    MEDIA,
    REPO,
    ViewerMedia,
    artifact,
    catalog_events,
    export_order,
    run_export,
)

READY = "document.body.dataset.viewerReady === 'true'"


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def package_file(server: Any, job: dict[str, Any], artifact_type: str, fmt: str) -> Path:
    return server.settings.export_base_path / job["spark_id"] / artifact(job, artifact_type, fmt)["path"]


@pytest.mark.parametrize("media", MEDIA, ids=lambda media: media.name)
async def test_the_viewer_plays_the_proxy_with_its_tracks_and_seeks_on_a_marker(
    live_server: Any, page: Any, catalog: Any, viewer_media: Path, media: ViewerMedia
) -> None:
    server = await live_server(media_roots=[viewer_media])
    full_path = "/" + media.relative
    await catalog.insert_many(catalog_events(full_path))
    job = await run_export(server.base_url, export_order(full_path, media.rate, media.start_timecode, proxy=True))
    vtt_path = package_file(server, job, "transcript", "vtt")
    markers = (await asyncio.to_thread(read_json, package_file(server, job, "markers", "json")))["segments"]
    expected_cues = len(await asyncio.to_thread(webvtt.read, str(vtt_path)))
    assert expected_cues == 5

    response = await page.goto(server.url(f"/console/spark/{job['spark_id']}"))
    assert response is not None and response.status == 200
    await page.wait_for_function(READY)
    assert await page.locator("h1").inner_text() == "Package viewer"

    # The transcript is the captions track, on by default, with every cue of the file.
    captions = await page.wait_for_function(
        """() => {
          const track = Array.from(document.getElementById('proxy').textTracks).find(t => t.kind === 'captions');
          return track && track.mode === 'showing' && track.cues && track.cues.length ? track.cues.length : null;
        }"""
    )
    assert await captions.json_value() == expected_cues
    kinds = await page.evaluate("Array.from(document.getElementById('proxy').textTracks, t => [t.label, t.kind])")
    assert sorted(kinds) == [
        ["Comments", "metadata"],
        ["Events", "metadata"],
        ["Markers", "chapters"],
        ["Transcript", "captions"],
    ]

    # It plays: currentTime advances, and the list follows playback.
    await page.evaluate("const v = document.getElementById('proxy'); v.muted = true; v.play()")
    await page.wait_for_function("document.getElementById('proxy').currentTime > 0.3")
    await page.wait_for_function("document.querySelector('#list-markers li.active') !== null", timeout=15_000)
    await page.evaluate("document.getElementById('proxy').pause()")

    # A click on a marker seeks to its time within one frame and shows its media timecode.
    frame = 1 / Fraction(media.rate)
    for index in (2, 1):
        marker = markers[index]
        await page.locator("#list-markers button.entry").nth(index).click()
        landed = await page.wait_for_function(
            f"""() => {{
              const v = document.getElementById('proxy');
              return !v.seeking && Math.abs(v.currentTime - {marker["start"]}) <= {float(frame)} ? v.currentTime : null;
            }}"""
        )
        assert abs(Fraction(await landed.json_value()) - Fraction(marker["start"])) <= frame
        await page.wait_for_function(
            f"document.getElementById('timecode').textContent === {json.dumps(marker['startTimecode'])}"
        )
        item = page.locator("#list-markers li").nth(index)
        assert await item.get_attribute("class") == "active"
        assert await item.locator("button").get_attribute("aria-current") == "true"

    # The "." key steps one frame forward: the timecode of the next frame (the package's own count).
    await page.locator("#list-markers button.entry").nth(0).focus()
    await page.keyboard.press(".")
    next_frame = markers[1]["startFrame"] + 1
    await page.wait_for_function(f"document.getElementById('frame').textContent === '{next_frame}'")

    # Package text is text: the marker holding HTML shows it literally and runs nothing.
    hostile = page.locator("#list-markers li").nth(len(markers) - 1)
    assert HOSTILE in await hostile.inner_text()
    assert await page.locator("#list-markers img, #list-markers script").count() == 0
    assert await page.evaluate("window.pwned === undefined")


async def test_without_a_proxy_the_lists_sit_on_a_time_ruler(live_server: Any, page: Any, catalog: Any) -> None:
    server = await live_server()
    full_path = "/clips/no-proxy.mov"
    await catalog.insert_many(catalog_events(full_path))
    job = await run_export(server.base_url, export_order(full_path, "25", "10:00:00:00", proxy=False))
    segments = {
        name: (await asyncio.to_thread(read_json, package_file(server, job, name, "json")))["segments"]
        for name in ("markers", "comments")
    }
    await page.goto(server.url(f"/console/spark/{job['spark_id']}"))
    await page.wait_for_function(READY)
    assert await page.locator("video").count() == 0
    assert await page.get_by_role("heading", name="Time ruler").count() == 1

    # Each entry is a mark placed by its time on a ruler as long as the last entry.
    last = max(segment["endFrame"] for entries in segments.values() for segment in entries)
    for name, entries in segments.items():
        lefts = await page.eval_on_selector_all(
            f"#ruler .lane[data-type={name}] .mark", "marks => marks.map(m => parseFloat(m.style.left))"
        )
        assert len(lefts) == len(entries)
        for left, segment in zip(lefts, entries, strict=True):
            assert left == pytest.approx(100 * segment["startFrame"] / last, abs=0.01)
        assert await page.locator(f"#list-{name} li").count() == len(entries)

    # Keyboard: a mark takes focus and Enter chooses it; the timecode and the list follow.
    comment = segments["comments"][1]
    mark = page.locator("#ruler .lane[data-type=comments] .mark").nth(1)
    await mark.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        f"document.getElementById('timecode').textContent === {json.dumps(comment['startTimecode'])}"
    )
    assert await page.locator("#list-comments li").nth(1).get_attribute("class") == "active"
    head = await page.eval_on_selector("#ruler .head", "h => parseFloat(h.style.left)")
    assert head == pytest.approx(100 * comment["startFrame"] / last, abs=0.01)

    # The same from the list.
    marker = segments["markers"][2]
    await page.locator("#list-markers button.entry").nth(2).click()
    await page.wait_for_function(
        f"document.getElementById('timecode').textContent === {json.dumps(marker['startTimecode'])}"
    )


async def test_the_viewer_explains_a_missing_or_unfinished_export(live_server: Any, page: Any) -> None:
    server = await live_server(export_concurrency=0)  # nothing runs: the export stays pending
    missing = await page.goto(server.url("/console/spark/00000000-0000-4000-8000-000000000000"))
    assert missing is not None and missing.status == 404
    assert "There is no export with the id" in await page.locator("main").inner_text()

    import httpx

    async with httpx.AsyncClient(base_url=server.base_url) as client:
        accepted = await client.post("/spark", json=export_order("/x.mov", "25", "00:00:00:00", proxy=False))
    spark_id = accepted.json()["spark_id"]
    pending = await page.goto(server.url(f"/console/spark/{spark_id}"))
    assert pending is not None and pending.status == 200
    text = await page.locator("main").inner_text()
    assert "This export is pending" in text
    assert REPO in text


@pytest.mark.parametrize(
    ("rate", "drop_frame", "library_rate"),
    [
        ("24000/1001", False, "23.976"),
        ("25", False, "25"),
        ("30000/1001", True, "29.97"),
        ("60000/1001", True, "59.94"),
        ("30000/1001", False, "29.97"),
    ],
)
async def test_the_viewer_timecodes_match_the_timecode_package(
    live_server: Any, page: Any, rate: str, drop_frame: bool, library_rate: str
) -> None:
    server = await live_server()
    await page.goto(server.url("/console"))
    await page.add_script_tag(url="/console/static/viewer.js")
    nominal = round(Fraction(rate))
    # Around every minute turn of the first twelve minutes (the ten-minute rule included), then one
    # frame in about a thousand of the first two hours.
    frames = sorted(
        {f for minute in range(13) for f in range(minute * 60 * nominal - 5, minute * 60 * nominal + 5) if f >= 0}
        | set(range(0, 200_000, 997))
    )
    shown = await page.evaluate(
        "([rate, drop, frames]) => { const c = SparkTimecode.counter(rate, drop);"
        " return frames.map(f => [c.fromFrame(f), c.toFrame(c.fromFrame(f))]); }",
        [rate, drop_frame, frames],
    )
    for frame, (text, back) in zip(frames, shown, strict=True):
        expected = Timecode(library_rate, frames=frame + 1, force_non_drop_frame=not drop_frame)
        assert text == str(expected), (frame, text, str(expected))
        assert back == frame


async def test_with_api_keys_the_viewer_reads_the_package_with_the_console_session(
    live_server: Any, page: Any, catalog: Any, viewer_media: Path
) -> None:
    key = "viewer-key-1"
    server = await live_server(media_roots=[viewer_media], api_keys=[key])
    media = MEDIA[0]
    full_path = "/" + media.relative
    await catalog.insert_many(catalog_events(full_path))
    job = await run_export(
        server.base_url,
        export_order(full_path, media.rate, media.start_timecode, proxy=True),
        headers={"X-API-Key": key},
    )
    viewer = f"/console/spark/{job['spark_id']}"
    await page.goto(server.url(viewer))
    assert page.url.startswith(server.url("/console/login"))
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(server.url(viewer))
    await page.wait_for_function(READY)
    # The lists, the tracks and the proxy all came through the session cookie.
    assert await page.locator("#list-markers li").count() == len(MARKS) + 1
    await page.wait_for_function(
        "Array.from(document.getElementById('proxy').textTracks).some(t => t.kind === 'captions' && t.cues?.length)"
    )
    await page.wait_for_function("document.getElementById('proxy').readyState >= 2")
