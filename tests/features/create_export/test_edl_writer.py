"""CMX 3600 EDLs: Resolve marker EDLs and selects cut lists, read back by OpenTimelineIO and strictly.

OpenTimelineIO's `cmx_3600` reader is the independent reader (it needs the rate, refuses frames past
the base and mismatched durations, reads `;` as drop frame); the strict reader here checks what it
lets through: ASCII, columns, line lengths, FCM and separators, event numbering, the `|C:|M:|D:` line.
"""

from __future__ import annotations

import random
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile
from features.create_export.writers import edl as edl_writer
from tests.features.create_export.exact import exact_frame, label_to_frame
from tests.features.create_export.samples import MODE_IDS, MODES, hostile_segments, many_segments, timeline

RESOLVE_COLOURS = {"transcript": "Blue", "events": "Green", "comments": "Yellow", "markers": "Red"}
TC = r"\d{2}:[0-5]\d:[0-5]\d[:;]\d{2}"
# Columns as FORMAT-FACTS §2.2 gives them: number 1-3, reel 6-13, channel 15-20, edit 21-24, TCs from 30.
EVENT = re.compile(rf"(\d{{3}})  (.{{8}}) (.{{6}})(.{{4}}) (.{{3}}) ({TC}) ({TC}) ({TC}) ({TC})(  )?")
MARKER = re.compile(r" \|C:ResolveColor([A-Za-z]+) \|M:([^|]*) \|D:(\d+)")

# DaVinci Resolve's 'Timeline Markers to EDL' export, byte for byte but LF for CRLF (diecknet/DavinciTimestamp,
# tests/Testdata/Timeline.edl, MIT; also in shared/formats/samples/edl/resolve_timeline_markers.edl).
RESOLVE_EXPORT = (
    "TITLE: Timeline\n"
    "FCM: NON-DROP FRAME\n"
    "\n"
    "001  001      V     C        00:00:00:00 00:00:00:01 00:00:00:00 00:00:00:01  \n"
    " |C:ResolveColorBlue |M:Test Chapter 1 |D:1\n"
    "\n"
    "002  001      V     C        00:00:48:18 00:00:48:19 00:00:48:18 00:00:48:19  \n"
    " |C:ResolveColorBlue |M:Test Chapter 2 |D:1\n"
    "\n"
    "003  001      V     C        00:02:25:17 00:02:25:18 00:02:25:17 00:02:25:18  \n"
    " |C:ResolveColorBlue |M:Hello |D:1\n"
    "\n"
    "004  001      V     C        00:03:04:08 00:03:04:09 00:03:04:08 00:03:04:09  \n"
    " |C:ResolveColorBlue |M:Test Chapter 4 |D:1\n"
    "\n"
    "005  001      V     C        00:03:55:00 00:03:55:01 00:03:55:00 00:03:55:01  \n"
    " |C:ResolveColorBlue |M:Blablabla |D:1\n"
    "\n"
    "006  001      V     C        00:08:30:21 00:08:30:22 00:08:30:21 00:08:30:22  \n"
    " |C:ResolveColorBlue |M:Test 12345 Test |D:1\n"
    "\n"
)


@dataclass
class Event:
    number: int
    reel: str
    frames: tuple[int, int, int, int]  # source in, source out, record in, record out
    comments: list[str]


@pytest.fixture(scope="module")
def ten_thousand() -> list[Segment]:
    return many_segments(10_000)


@pytest.fixture(params=MODES, ids=MODE_IDS)
def line(request: pytest.FixtureRequest) -> Timeline:
    rate, drop_frame = request.param
    return timeline(rate=rate, drop_frame=drop_frame, start_frame=label_to_frame("01:00:00:00", rate, drop_frame))


def read_strictly(path: Path, line: Timeline) -> list[Event]:
    """Events of one EDL file, after checking everything a strict CMX 3600 reader would refuse."""
    raw = path.read_bytes()
    assert all(byte < 128 for byte in raw), "not ASCII"
    assert b"\r" not in raw
    text = raw.decode("ascii")
    lines = text.split("\n")
    assert lines[-1] == "", "the file must end with a line end"
    assert all(len(row) <= 128 for row in lines)
    assert all(row == row.strip("\x00\t") and row.isprintable() for row in lines)
    assert re.fullmatch(r"TITLE: \S.{0,69}", lines[0]), lines[0]
    assert lines[1] == ("FCM: DROP FRAME" if line.drop_frame else "FCM: NON-DROP FRAME")
    assert lines[2] == ""
    events: list[Event] = []
    for row in lines[3:-1]:
        if row and row[0].isdigit():
            events.append(parse_event(row, line))
        elif row:
            assert events, f"a comment before any event: {row}"
            events[-1].comments.append(row)
    assert [event.number for event in events] == list(range(1, len(events) + 1))
    assert len(events) <= 999
    return events


def parse_event(row: str, line: Timeline) -> Event:
    match = EVENT.fullmatch(row)
    assert match, row
    number, reel, channel, edit, transition, *timecodes, _ = match.groups()
    assert (channel, edit, transition) == ("V     ", "C   ", "   ")
    # `;` pairs with FCM: DROP FRAME only, and then every timecode carries it.
    assert (";" in row) == line.drop_frame, row
    assert all(timecode[8] == (";" if line.drop_frame else ":") for timecode in timecodes), row
    in_, out, record_in, record_out = (label_to_frame(tc, line.rate, line.drop_frame) for tc in timecodes)
    assert out - in_ == record_out - record_in > 0, row
    return Event(int(number), reel.rstrip(), (in_, out, record_in, record_out), [])


def read_with_otio(path: Path, line: Timeline) -> list[tuple[int, int, int]]:
    """(source in, source duration, record in) of every clip, in frames, as OpenTimelineIO reads them."""
    read = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=float(line.rate))
    (track,) = read.tracks
    offset = track.source_range.start_time.to_frames() if track.source_range else 0
    clips = []
    for clip in track.find_clips():
        source = clip.source_range
        record = track.range_of_child(clip).start_time.to_frames() - offset
        clips.append((source.start_time.to_frames(), source.duration.to_frames(), record))
    return clips


def expected_markers(segments: Sequence[Segment], line: Timeline) -> list[tuple[int, int]]:
    """(record frame, duration) per distinct start frame: one marker per frame, the longest duration."""
    markers: dict[int, int] = {}
    for segment in segments:
        start = exact_frame(segment.start, line.rate)
        duration = max(1, exact_frame(segment.end, line.rate) - start)
        markers[start] = max(markers.get(start, 1), duration)
    return [(line.start_frame + frame, duration) for frame, duration in sorted(markers.items())]


def part_paths(path: Path, count: int) -> list[Path]:
    return [path] + [path.with_name(f"{path.stem}_part{number}.edl") for number in range(2, count + 1)]


def check_marker_edl(written: list[WrittenFile], path: Path, segments: list[Segment], line: Timeline) -> None:
    expected = expected_markers(segments, line)
    parts = -(-len(expected) // 999) or 1
    assert [file.path for file in written] == part_paths(path, parts)
    assert sorted(path.parent.iterdir()) == sorted(part_paths(path, parts))
    assert sum(file.segments or 0 for file in written) == len(segments)
    assert sum(file.items for file in written) == len(expected)
    found: list[tuple[int, int]] = []
    for file in written:
        events = read_strictly(file.path, line)
        assert len(events) == (999 if file is not written[-1] else len(expected) - 999 * (parts - 1))
        assert file.items == len(events)
        for event in events:
            source_in, source_out, record_in, _ = event.frames
            assert event.reel == "001"
            assert source_in == record_in
            assert source_out == record_in + 1
            (comment,) = event.comments
            colour, name, duration = MARKER.fullmatch(comment).groups()
            assert colour == RESOLVE_COLOURS[line.data_type]
            assert name == name.strip()
            assert len(name) <= 80
            found.append((record_in, int(duration)))
        clips = read_with_otio(file.path, line)
        assert [(source, length, record) for source, length, record in clips] == [
            (event.frames[2], 1, event.frames[2]) for event in events
        ]
    assert found == expected


def test_marker_edl_of_hostile_text(tmp_path: Path, line: Timeline) -> None:
    path = tmp_path / "markers.edl"
    segments = hostile_segments()
    check_marker_edl(edl_writer.write_segments(path, segments, line), path, segments, line)


def test_marker_edl_of_ten_thousand_events_splits_at_999(
    tmp_path: Path, line: Timeline, ten_thousand: list[Segment]
) -> None:
    path = tmp_path / "markers.edl"
    check_marker_edl(edl_writer.write_segments(path, ten_thousand, line), path, ten_thousand, line)


def test_marker_names_are_one_line_of_ascii_without_pipes(tmp_path: Path) -> None:
    path = tmp_path / "markers.edl"
    edl_writer.write_segments(path, hostile_segments(), timeline())
    names = [MARKER.fullmatch(row).group(2) for row in path.read_text().split("\n") if row.startswith(" |C:")]
    assert "Line one Line two Line three after blank lines" in names
    assert "Pipes / and // more /" in names
    assert "Emoji and ZWJ" in names
    assert names.count("insight") == 2  # no ASCII left (Japanese) and empty: named after the type
    assert any(name.startswith("xxxx") and name.endswith("...") and len(name) == 80 for name in names)


@pytest.mark.parametrize("data_type", list(RESOLVE_COLOURS))
def test_marker_colour_follows_the_data_type(tmp_path: Path, data_type: str) -> None:
    path = tmp_path / "markers.edl"
    edl_writer.write_segments(path, hostile_segments(), timeline(data_type=data_type))
    colours = {MARKER.fullmatch(row).group(1) for row in path.read_text().split("\n") if row.startswith(" |")}
    assert colours == {RESOLVE_COLOURS[data_type]}


def test_segments_on_one_frame_make_one_marker(tmp_path: Path) -> None:
    path = tmp_path / "markers.edl"
    segments = [
        Segment(id="a", event_type="t", value="first", start=10.0, end=11.0),
        Segment(id="b", event_type="t", value="second", start=10.01, end=14.0),
        Segment(id="c", event_type="t", value="third", start=10.019, end=10.019),
    ]
    line = timeline(rate=Fraction(25))
    (written,) = edl_writer.write_segments(path, segments, line)
    assert (written.items, written.segments) == (1, 3)
    (event,) = read_strictly(path, line)
    assert MARKER.fullmatch(event.comments[0]).groups() == ("Yellow", "first / second / third", "100")


def test_layout_matches_resolves_own_marker_export(tmp_path: Path) -> None:
    rows = RESOLVE_EXPORT.split("\n")
    markers = [(EVENT.fullmatch(rows[i]).group(6), MARKER.fullmatch(rows[i + 1]).group(2)) for i in range(3, 21, 3)]
    rate = Fraction(24)  # the sample's frames stay below 24; any base of 24 or more reads them alike
    starts = [label_to_frame(timecode, rate, False) / 24 for timecode, _ in markers]
    # Zero-length segments: Resolve wrote |D:1 for every marker.
    segments = [
        Segment(id=f"{i}", event_type="marker", value=name, start=start, end=start)
        for i, (start, (_, name)) in enumerate(zip(starts, markers, strict=True))
    ]
    line = Timeline(
        rate=rate, drop_frame=False, start_frame=0, repo_guid="r", full_path="/x.mov", data_type="transcript",
        title="Timeline", media_url="file:///x.mov",
    )  # fmt: skip
    path = tmp_path / "markers.edl"
    edl_writer.write_segments(path, segments, line)
    assert path.read_text(encoding="ascii") == RESOLVE_EXPORT


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    seconds=st.floats(min_value=0, max_value=80_000, allow_nan=False)
    | st.integers(0, 80_000_000).map(lambda ms: ms / 1000),
    length=st.floats(min_value=0, max_value=60, allow_nan=False),
)
def test_marker_lands_on_the_exact_frame_for_any_time(
    mode: tuple[Fraction, bool], seconds: float, length: float
) -> None:
    rate, drop_frame = mode
    line = timeline(rate=rate, drop_frame=drop_frame, start_frame=label_to_frame("00:30:00:00", rate, drop_frame))
    segment = Segment(id="x", event_type="label", value="v", start=seconds, end=seconds + length)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.edl"
        edl_writer.write_segments(path, [segment], line)
        (event,) = read_strictly(path, line)
        ((_, _, record),) = read_with_otio(path, line)
    start = exact_frame(seconds, rate)
    assert event.frames[2] == record == line.start_frame + start
    duration = int(MARKER.fullmatch(event.comments[0]).group(3))
    assert duration == max(1, exact_frame(seconds + length, rate) - start)


def test_empty_marker_edl_is_a_header(tmp_path: Path) -> None:
    path = tmp_path / "markers.edl"
    line = timeline()
    assert edl_writer.write_segments(path, [], line) == [WrittenFile(path=path, items=0, segments=0)]
    assert read_strictly(path, line) == []


# --- selects cut list -------------------------------------------------------------------------------


def random_ranges(count: int, seed: int = 3) -> list[SelectRange]:
    rng = random.Random(seed)
    ranges, time = [], 0.0
    for index in range(count):
        time += rng.uniform(0, 20)
        start = round(time, 3)
        time += rng.choice([0.0, 0.001, rng.uniform(0.5, 30)])
        ranges.append(SelectRange(start=start, end=round(time, 3), label=f"select {index} | ümlaut\nline"))
    return ranges


def check_selects(written: list[WrittenFile], path: Path, ranges: list[SelectRange], line: Timeline) -> None:
    parts = -(-len(ranges) // 999) or 1
    assert [file.path for file in written] == part_paths(path, parts)
    assert sum(file.items for file in written) == len(ranges)
    record = line.start_frame
    index = 0
    for file in written:
        events = read_strictly(file.path, line)
        assert (file.items, file.segments) == (len(events), None)
        clips = read_with_otio(file.path, line)
        assert len(clips) == len(events)
        for event, clip in zip(events, clips, strict=True):
            select = ranges[index]
            index += 1
            source_in = exact_frame(select.start, line.rate)
            length = max(1, exact_frame(select.end, line.rate) - source_in)
            assert event.reel == "AX"
            assert event.frames == (source_in, source_in + length, record, record + length)
            assert event.comments[0] == "* FROM CLIP NAME: interview.mov"
            assert clip == (source_in, length, record)
            record += length
    assert index == len(ranges)


def test_selects_cut_list_lays_ranges_back_to_back(tmp_path: Path, line: Timeline) -> None:
    path = tmp_path / "selects.edl"
    ranges = random_ranges(40)
    check_selects(edl_writer.write_selects(path, ranges, line), path, ranges, line)


def test_selects_past_999_continue_in_parts(tmp_path: Path) -> None:
    path = tmp_path / "selects.edl"
    line = timeline(rate=Fraction(30000, 1001), drop_frame=True, start_frame=107892)
    ranges = random_ranges(2100)
    written = edl_writer.write_selects(path, ranges, line)
    assert [file.items for file in written] == [999, 999, 102]
    check_selects(written, path, ranges, line)


def test_selects_labels_become_ascii_comments(tmp_path: Path) -> None:
    path = tmp_path / "selects.edl"
    line = timeline(rate=Fraction(25))
    edl_writer.write_selects(path, [SelectRange(1.0, 2.0, "Café | crème\nbrûlée 🎬")], line)
    (event,) = read_strictly(path, line)
    assert event.comments == ["* FROM CLIP NAME: interview.mov", "* COMMENT: Cafe / creme brulee"]


def test_selects_without_an_asset_path_leave_the_clip_name_out(tmp_path: Path) -> None:
    path = tmp_path / "selects.edl"
    line = Timeline(
        rate=Fraction(25), drop_frame=False, start_frame=0, repo_guid="r", full_path="", data_type="selects",
        title="", media_url="",
    )  # fmt: skip
    edl_writer.write_selects(path, [SelectRange(1.0, 2.0, "")], line)
    (event,) = read_strictly(path, line)
    assert event.comments == []
    assert read_with_otio(path, line) == [(25, 25, 0)]
