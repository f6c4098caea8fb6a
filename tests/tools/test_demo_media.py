"""The demo media `make run` makes: 23.976, 01:00:00:00, stereo tone, burnt-in timecode, made once."""

from __future__ import annotations

import json
import subprocess

from tools.demo_media import ensure_demo_media


def test_demo_media_has_the_demo_asset_timing_and_is_made_once(tmp_path, capfd) -> None:
    path, made = ensure_demo_media(tmp_path, seconds=2)

    assert made and path == tmp_path / "demo" / "interview.mov"
    assert "no burnt-in timecode" not in capfd.readouterr().err, "drawtext must work with Debian's ffmpeg"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)], check=True, capture_output=True
    )
    streams = json.loads(probe.stdout)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    audio = next(s for s in streams if s["codec_type"] == "audio")
    assert video["avg_frame_rate"] == "24000/1001" and (video["width"], video["height"]) == (320, 180)
    assert video["tags"]["timecode"] == "01:00:00:00"
    assert audio["channels"] == 2
    before = path.stat().st_mtime_ns
    assert ensure_demo_media(tmp_path, seconds=2) == (path, False)
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in path.parent.iterdir()] == ["interview.mov"]
