"""Subclips and proxies cut by real ffmpeg, checked with ffprobe."""

from __future__ import annotations

from fractions import Fraction

import httpx
import pytest

from tests.features.create_export.exact import exact_frame, frame_to_label, label_to_frame
from tests.features.create_export.media.support import EVENT_TIMES, events_for, ffprobe, probe_streams, run_export
from tests.package_check import check_package


@pytest.fixture
async def media_client(make_settings, app_factory, media_root):
    settings = make_settings(media_roots=[media_root])
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http, settings


def subclip_order(full_path: str, accurate: bool, handle: float = 0.25, **media) -> dict:
    return {
        "repo_guid": "media-repo",
        "inputs": {"full_path": full_path},
        "user_inputs": {"llm_instructions": False},
        "media": {
            "subclips": {"enabled": True, "source": ["comments"], "handle_seconds": handle, "accurate": accurate},
            **media,
        },
    }


def video_stream(path) -> dict:
    return next(s for s in probe_streams(path)["streams"] if s["codec_type"] == "video")


def timecode_of(path) -> str:
    document = probe_streams(path)
    for holder in [document["format"], *document["streams"]]:
        if "timecode" in (holder.get("tags") or {}):
            return holder["tags"]["timecode"]
    raise AssertionError(f"{path} has no timecode")


@pytest.mark.parametrize("name", ["23.976-tc01", "29.97DF", "no-audio"])
async def test_accurate_subclips_are_frame_accurate_on_the_source_timecode(
    media_client, catalog, media_files, name
) -> None:
    client, settings = media_client
    fixture, _ = media_files[name]
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))

    job = await run_export(client, subclip_order(full_path, accurate=True))

    assert job["status"] == "completed", job
    manifest = job["manifest"]
    folder = settings.export_base_path / job["spark_id"]
    check_package(folder, manifest)
    clips = [a for a in manifest["artifacts"] if a["artifact_type"] == "subclip"]
    assert len(clips) == len(EVENT_TIMES) == manifest["counts"]["subclips"]
    rate = fixture.rate
    tc_start = label_to_frame(fixture.timecode, rate, fixture.drop_frame) if fixture.timecode else 0
    for clip, (start, end) in zip(clips, EVENT_TIMES, strict=True):
        in_frame = max(0, exact_frame(start - 0.25, rate))
        out_frame = exact_frame(end + 0.25, rate)
        path = folder / clip["path"]
        assert clip["path"].startswith(f"media/subclips/{clips.index(clip) + 1:03d}_comments_")
        stream = video_stream(path)
        duration = Fraction(stream["duration_ts"]) * Fraction(stream["time_base"])
        assert abs(duration - Fraction(out_frame - in_frame) / rate) <= 1 / rate
        assert label_to_frame(timecode_of(path), rate, fixture.drop_frame) == tc_start + in_frame
        assert clip["source_in"] == frame_to_label(tc_start + in_frame, rate, fixture.drop_frame)
        assert clip["source_out"] == frame_to_label(tc_start + out_frame, rate, fixture.drop_frame)
        assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "no temporary file left"


async def test_copy_subclips_start_on_a_keyframe_with_no_hidden_lead_in(media_client, catalog, media_files) -> None:
    client, settings = media_client
    fixture, source = media_files["25-tc10"]
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))

    job = await run_export(client, subclip_order(full_path, accurate=False))

    assert job["status"] == "completed", job
    folder = settings.export_base_path / job["spark_id"]
    rate = fixture.rate
    tc_start = label_to_frame(fixture.timecode, rate, False)
    packets = ffprobe(source, "-select_streams", "v:0", "-show_entries", "packet=pts,flags")["packets"]
    keyframes = sorted(p["pts"] for p in packets if "K" in p["flags"])  # time base 1/12800 at 25 fps
    clips = [a for a in job["manifest"]["artifacts"] if a["artifact_type"] == "subclip"]
    assert len(clips) == len(EVENT_TIMES)
    for clip, (start, _) in zip(clips, EVENT_TIMES, strict=True):
        requested = max(0, exact_frame(start - 0.25, rate))
        first = label_to_frame(clip["source_in"], rate, False) - tc_start
        assert first <= requested
        assert label_to_frame(clip["requested_in"], rate, False) - tc_start == requested
        tb = Fraction(video_stream(source)["time_base"])
        keyframe_frames = [round(pts * tb * rate) for pts in keyframes]
        assert first == max(frame for frame in keyframe_frames if frame <= requested)
        path = folder / clip["path"]
        assert label_to_frame(timecode_of(path), rate, False) == tc_start + first
        # Edit lists ignored: the first decoded video frame is at 0, and it is the keyframe itself.
        frames = ffprobe(
            path, "-ignore_editlist", "1", "-select_streams", "v:0", "-show_entries", "frame=pts,key_frame"
        )["frames"]
        assert frames[0]["key_frame"] == 1
        assert min(f["pts"] for f in frames) >= 0
        decoded = len(frames)
        assert decoded == clip["frames"] or abs(decoded - clip["frames"]) <= 1


async def test_a_proxy_keeps_length_rate_audio_and_timecode(media_client, catalog, media_files) -> None:
    client, settings = media_client
    fixture, _ = media_files["29.97DF"]
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))
    order = subclip_order(full_path, accurate=False)
    order["media"] = {"include_full_proxy": True}

    job = await run_export(client, order)

    assert job["status"] == "completed", job
    folder = settings.export_base_path / job["spark_id"]
    (proxy,) = [a for a in job["manifest"]["artifacts"] if a["artifact_type"] == "proxy"]
    assert proxy["path"] == "media/c2997df_proxy.mp4"
    document = probe_streams(folder / proxy["path"])
    video = next(s for s in document["streams"] if s["codec_type"] == "video")
    audio = [s for s in document["streams"] if s["codec_type"] == "audio"]
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert Fraction(video["avg_frame_rate"]) == fixture.rate
    duration = Fraction(video["duration_ts"]) * Fraction(video["time_base"])
    assert abs(duration - Fraction(fixture.frames) / fixture.rate) <= 1 / fixture.rate
    assert sum(s["channels"] for s in audio) == fixture.channels and audio[0]["codec_name"] == "aac"
    assert timecode_of(folder / proxy["path"]) == fixture.timecode
    assert video["width"] <= 960 and video["height"] <= 540


async def test_a_given_proxy_is_copied_as_it_is_and_cut_from(media_client, catalog, media_files) -> None:
    client, settings = media_client
    fixture, asset = media_files["25-tc10"]
    _, proxy_source = media_files["no-timecode"]  # another file, so the copy and the cuts can be told apart
    full_path = f"/clips/{fixture.filename}"
    await catalog.insert_many(events_for("media-repo", full_path))
    order = subclip_order(full_path, accurate=True, proxy_path=f"/clips/{proxy_source.name}")

    job = await run_export(client, order)

    assert job["status"] == "completed", job
    folder = settings.export_base_path / job["spark_id"]
    manifest = job["manifest"]
    (proxy,) = [a for a in manifest["artifacts"] if a["artifact_type"] == "proxy"]
    assert proxy["path"] == f"media/{proxy_source.name}"
    assert (folder / proxy["path"]).read_bytes() == proxy_source.read_bytes()
    assert manifest["media"]["proxy"]["proxy_path"] == f"/clips/{proxy_source.name}"
    clips = [a for a in manifest["artifacts"] if a["artifact_type"] == "subclip"]
    assert len(clips) == len(EVENT_TIMES)
    # Cut from the proxy (the asset is mono, the proxy stereo) ...
    audio = [s for s in probe_streams(folder / clips[0]["path"])["streams"] if s["codec_type"] == "audio"]
    assert audio[0]["channels"] == 2
    # ... on the asset's timecode.
    rate = fixture.rate
    first = label_to_frame(timecode_of(folder / clips[0]["path"]), rate, False)
    assert first == label_to_frame(fixture.timecode, rate, False) + exact_frame(EVENT_TIMES[0][0] - 0.25, rate)
    assert asset.exists()
