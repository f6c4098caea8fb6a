"""Probing: each ffmpeg-made fixture reads back as the command that made it says."""

from __future__ import annotations

from fractions import Fraction

import pytest

from features.create_export.media.probe import MediaInfo, parse_probe, probe, snap_rate
from tests.features.create_export.media.fixtures import FIXTURES


@pytest.mark.parametrize("name", [fixture.name for fixture in FIXTURES])
async def test_each_fixture_probes_to_what_made_it(media_files, name) -> None:
    fixture, path = media_files[name]

    info: MediaInfo = await probe(path)

    assert info.rate == fixture.rate
    assert info.variable_frame_rate is fixture.vfr
    assert info.drop_frame is fixture.drop_frame
    assert info.start_timecode == (fixture.timecode or "00:00:00:00")
    assert info.timecode_source == ("none" if fixture.timecode is None else "stream")
    assert info.audio_channels == fixture.channels
    assert (info.width, info.height) == (64, 36)
    assert info.size == path.stat().st_size
    if not fixture.vfr:
        # Duration is exact: the frames made, at the exact rate (within one frame for the encoder's end).
        assert abs(info.duration - Fraction(fixture.frames) / fixture.rate) <= 1 / fixture.rate
    else:
        assert Fraction(3) <= info.duration <= Fraction(fixture.seconds)


def test_rates_snap_to_the_closest_listed_rate_and_keep_the_raw_one() -> None:
    assert snap_rate(Fraction(2997, 100)) == Fraction(30000, 1001)
    assert snap_rate(Fraction(2381, 100)) == Fraction(24000, 1001)  # a millisecond-quantised mkv
    assert snap_rate(Fraction(24)) == Fraction(24)  # never pulled to 23.976
    assert snap_rate(Fraction(30)) == Fraction(30)
    assert snap_rate(Fraction(600)) is None
    document = {
        "format": {"format_name": "mov", "size": "10", "tags": {"timecode": "09:58:30;00"}},
        "streams": [
            {"codec_type": "video", "avg_frame_rate": "2997/100", "r_frame_rate": "2997/100", "time_base": "1/2997",
             "duration_ts": 2997, "width": 8, "height": 8},
            {"codec_type": "data", "codec_tag_string": "tmcd", "avg_frame_rate": "30/1",
             "tags": {"timecode": "00:00:00:00"}},
        ],
    }  # fmt: skip
    info = parse_probe(document)
    assert info.rate == Fraction(30000, 1001) and info.raw_rate == "2997/100"
    # The format tag comes first (MXF material package), and its ';' makes it drop frame.
    assert (info.start_timecode, info.timecode_source, info.drop_frame) == ("09:58:30;00", "format", True)
    assert info.duration == 1


async def test_a_text_file_named_mov_is_not_media(tmp_path) -> None:
    fake = tmp_path / "notes.mov"
    fake.write_text("this is not a movie\n")
    with pytest.raises(Exception, match="ffprobe cannot read it"):
        await probe(fake)
