"""Exports of ffmpeg-made media: every timeline on the media's own timecode, read back independently."""

from __future__ import annotations

from fractions import Fraction

import httpx
import opentimelineio as otio
import pytest
from lxml import etree

from tests.features.create_export.exact import exact_frame, label_to_frame
from tests.features.create_export.media.fixtures import FIXTURES
from tests.features.create_export.media.support import EVENT_TIMES, events_for, run_export
from tests.package_check import FCPXML_DTD, check_package

TIMELINE_FORMATS = ["edl", "fcpxml", "xmeml", "otio", "avid"]


@pytest.fixture
async def media_client(make_settings, app_factory, media_root):
    settings = make_settings(media_roots=[media_root])
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http, settings


def media_order(full_path: str, **media) -> dict:
    return {
        "repo_guid": "media-repo",
        "inputs": {"full_path": full_path},
        "outputs": {
            "markers": {"formats": TIMELINE_FORMATS},
            "selects": {"enabled": True, "formats": ["edl", "fcpxml", "xmeml", "otio"], "source": ["comments"]},
        },
        "user_inputs": {"llm_instructions": False},
        "media": {"start_timecode": "00:00:00:00", **media},
    }


@pytest.mark.parametrize("name", [fixture.name for fixture in FIXTURES])
async def test_every_timeline_is_on_the_media_timecode(media_client, catalog, media_files, name) -> None:
    client, settings = media_client
    fixture, _ = media_files[name]
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))

    job = await run_export(client, media_order(full_path))

    assert job["status"] == "completed", job
    manifest = job["manifest"]
    rate = fixture.rate
    assert manifest["frame_rate"] == f"{rate.numerator}/{rate.denominator}".removesuffix("/1")
    assert manifest["media"]["start_timecode"] == (fixture.timecode or "00:00:00:00")
    assert manifest["drop_frame"] is fixture.drop_frame
    folder = settings.export_base_path / job["spark_id"]
    check_package(folder, manifest)
    # The media's first frame as a frame count, read by the `timecode` package, not the code under test.
    tc_start = label_to_frame(fixture.timecode, rate, fixture.drop_frame) if fixture.timecode else 0
    expected = [tc_start + exact_frame(start, rate) for start, _ in EVENT_TIMES]

    edl = otio.adapters.read_from_file(
        str(folder / "markers/sdna_ai_spark_markers.edl"), adapter_name="cmx_3600", rate=float(rate)
    )
    assert [clip.source_range.start_time.to_frames() for clip in edl.find_clips()] == expected

    xml = otio.adapters.read_from_file(str(folder / "markers/sdna_ai_spark_markers.xml"), adapter_name="fcp_xml")
    (clip,) = xml.find_clips()
    assert clip.media_reference.available_range.start_time.to_frames() == tc_start

    timeline = otio.adapters.read_from_file(str(folder / "markers/sdna_ai_spark_markers.otio"))
    (clip,) = timeline.find_clips()
    assert clip.media_reference.available_range.start_time.to_frames() == tc_start
    assert [marker.marked_range.start_time.to_frames() for marker in clip.markers] == expected

    document = etree.parse(str(folder / "markers/sdna_ai_spark_markers.fcpxml"))
    assert etree.DTD(str(FCPXML_DTD)).validate(document)
    asset = document.find(".//asset")
    assert Fraction(asset.get("start").removesuffix("s")) == Fraction(tc_start) / rate
    starts = [Fraction(marker.get("start").removesuffix("s")) for marker in document.iter("marker")]
    assert starts == [Fraction(frame) / rate for frame in expected]

    selects = otio.adapters.read_from_file(
        str(folder / "selects/sdna_ai_spark_selects.edl"), adapter_name="cmx_3600", rate=float(rate)
    )
    first = next(iter(selects.find_clips()))
    # The first select starts 2 s (the handle) before the first comment, clamped at the media's start.
    assert first.source_range.start_time.to_frames() == tc_start + max(0, exact_frame(EVENT_TIMES[0][0] - 2, rate))
    media_frames = round(Fraction(manifest["media"]["duration"]) * rate)
    last = list(selects.find_clips())[-1]
    assert last.source_range.end_time_exclusive().to_frames() <= tc_start + media_frames

    avid_first = (folder / "markers/sdna_ai_spark_markers.txt").read_text().splitlines()[0].split("\t")[1]
    assert label_to_frame(avid_first, rate, fixture.drop_frame) == expected[0]


async def test_without_media_the_source_side_starts_at_zero(media_client, catalog) -> None:
    client, settings = media_client
    await catalog.insert_many(events_for("media-repo", "/clips/not-there.mov"))

    job = await run_export(client, media_order("/clips/not-there.mov", frame_rate="25"))

    assert job["status"] == "completed", job
    assert job["manifest"]["media"] is None
    assert any("media not probed" in warning for warning in job["manifest"]["warnings"])
    folder = settings.export_base_path / job["spark_id"]
    timeline = otio.adapters.read_from_file(str(folder / "markers/sdna_ai_spark_markers.otio"))
    (clip,) = timeline.find_clips()
    assert clip.media_reference.available_range.start_time.to_frames() == 0


async def test_explicit_work_order_values_win_with_a_warning(media_client, catalog, media_files) -> None:
    client, _ = media_client
    fixture, _ = media_files["25-tc10"]
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))

    job = await run_export(client, media_order(full_path, frame_rate="24", width=1920))

    manifest = job["manifest"]
    assert job["status"] == "completed", job
    assert manifest["frame_rate"] == "24" and manifest["media"]["frame_rate"] == "25"
    assert any("frame_rate 24 differs from the media's 25" in warning for warning in manifest["warnings"])
    assert any("1920x36 differ from the media's 64x36" in warning for warning in manifest["warnings"])
