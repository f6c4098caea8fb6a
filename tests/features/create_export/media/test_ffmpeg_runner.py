"""The ffmpeg runner on its own: a failure carries ffmpeg's last words without private paths and leaves
no partial file; a success renames the temporary output into place."""

from __future__ import annotations

import httpx
import pytest

from features.create_export.media.ffmpeg import MediaToolError, input_args, run_ffmpeg
from tests.features.create_export.media.support import probe_streams


async def test_a_failing_ffmpeg_names_what_went_wrong_and_leaves_nothing(tmp_path, media_files) -> None:
    _, source = media_files["25-tc10"]
    build = tmp_path / "private-build-folder"
    build.mkdir()
    target = build / "clip.mp4"
    # A filter that does not exist: ffmpeg opens the input, then exits non-zero.
    arguments = [*input_args(source), "-vf", "no_such_filter", "-f", "mp4"]

    with pytest.raises(MediaToolError) as caught:
        await run_ffmpeg(arguments, target, expected_seconds=4, concurrency=1)

    message = str(caught.value)
    assert "ffmpeg exited with" in message and "no_such_filter" in message
    assert str(build) not in message
    assert list(build.iterdir()) == []


async def test_a_successful_run_reports_progress_and_renames_into_place(tmp_path, media_files) -> None:
    _, source = media_files["25-tc10"]
    target = tmp_path / "copy.mov"
    seen: list[float] = []

    async def progress(fraction: float) -> None:
        seen.append(fraction)

    await run_ffmpeg(
        [*input_args(source), "-c", "copy", "-f", "mov"],
        target,
        expected_seconds=4,
        concurrency=1,
        on_progress=progress,
    )

    assert [p.name for p in tmp_path.iterdir()] == ["copy.mov"]
    assert probe_streams(target)["streams"][0]["codec_type"] == "video"
    assert seen and all(0 <= value <= 1 for value in seen) and seen[-1] == 1.0


async def test_no_ffmpeg_on_the_server_is_a_422(make_settings, app_factory, media_root, monkeypatch, tmp_path):
    app = await app_factory(make_settings(media_roots=[media_root]))
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: neither ffmpeg nor ffprobe
    order = {
        "repo_guid": "media-repo",
        "inputs": {"full_path": "/clips/b25.mov"},
        "media": {"include_full_proxy": True},
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/spark", json=order)
    assert response.status_code == 422
    assert "need ffmpeg and ffprobe, which this server does not have" in response.text
