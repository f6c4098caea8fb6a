"""FCPXML, xmeml and OTIO writers: real files, read back by Apple's DTD and OpenTimelineIO's readers.

Expected frames are computed here from the exact decimal seconds (half up), independently of the
code under test, and compared with what the independent readers find in the files.
"""

from __future__ import annotations

import functools
import json
import math
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from lxml import etree

from features.create_export.timeline import Segment, SelectRange, Timeline
from features.create_export.writers import fcpxml, xmeml
from features.create_export.writers import otio as otio_writer
from tests.features.create_export.samples import hostile_segments, many_segments, timeline

DTD_PATH = Path(__file__).parents[2] / "fixtures" / "fcpxml-dtd" / "FCPXMLv1_10.dtd"
TIME_ATTRIBUTES = {"offset", "start", "duration", "tcStart", "frameDuration"}
FCPXML_TIME = re.compile(r"^\d+(/\d+)?s$")

# label, exact rate, drop frame, the frame count of 01:00:00:00 (FORMAT-FACTS §1.3 for DF).
RATES = [
    ("23.976", Fraction(24000, 1001), False, 86400),
    ("24", Fraction(24), False, 86400),
    ("25", Fraction(25), False, 90000),
    ("29.97DF", Fraction(30000, 1001), True, 107892),
    ("29.97NDF", Fraction(30000, 1001), False, 108000),
    ("50", Fraction(50), False, 180000),
    ("59.94DF", Fraction(60000, 1001), True, 215784),
    ("60", Fraction(60), False, 216000),
]
TIMELINES = [
    pytest.param(rate, drop, hour if at_hour else 0, id=f"{label}-{'1h' if at_hour else '0h'}")
    for label, rate, drop, hour in RATES
    for at_hour in (False, True)
]
SEGMENT_SETS = ["hostile", "many"]


@functools.cache
def segment_set(name: str) -> tuple[Segment, ...]:
    return tuple(hostile_segments() if name == "hostile" else many_segments(10_000))


def frame_of(seconds: float, rate: Fraction) -> int:
    """The expected frame: exact decimal seconds × rate, halves up."""
    return math.floor(Fraction(Decimal(repr(seconds))) * rate + Fraction(1, 2))


@functools.cache
def expected_frames(set_name: str, rate: Fraction) -> dict[str, tuple[int, int]]:
    """(start frame, end frame) by segment id (cached: 10,000 exact conversions per rate)."""
    return {s.id: (frame_of(s.start, rate), frame_of(s.end, rate)) for s in segment_set(set_name)}


def expected_markers(set_name: str, rate: Fraction) -> list[tuple[int, int]]:
    """(start frame, end frame) per segment, in start order."""
    return sorted(expected_frames(set_name, rate).values())


def expected_clip_frames(set_name: str, rate: Fraction) -> int:
    """Unknown media length: the last end rounded up, and past the last marker's first frame."""
    last_end = max(Fraction(Decimal(repr(s.end))) for s in segment_set(set_name))
    return max(math.ceil(last_end * rate), max(start for start, _ in expected_markers(set_name, rate)) + 1)


def timecode_label(frame: int, hour_frame: int, drop: bool) -> str:
    """Only 00:00:00:00 and 01:00:00:00 are used as starts here."""
    separator = ";" if drop else ":"
    return separator.join(["01" if frame == hour_frame and frame else "00", "00", "00", "00"])


def make_timeline(rate: Fraction, drop: bool, start: int, media_duration: float | None = None) -> Timeline:
    return timeline(rate=rate, drop_frame=drop, start_frame=start, media_duration=media_duration)


def fcpxml_seconds(value: str) -> Fraction:
    assert FCPXML_TIME.match(value), value
    return Fraction(value[:-1])


def read_fcpxml(path: Path) -> etree._ElementTree:
    """Parse and validate against Apple's DTD; fail with lxml's error log."""
    document = etree.parse(str(path))
    dtd = etree.DTD(str(DTD_PATH))
    assert dtd.validate(document), dtd.error_log.filter_from_errors()
    return document


def assert_fcpxml_times_on_frames(document: etree._ElementTree, rate: Fraction) -> None:
    frame = 1 / rate
    checked = 0
    for element in document.iter():
        for name in TIME_ATTRIBUTES & set(element.attrib):
            seconds = fcpxml_seconds(element.attrib[name])
            assert (seconds / frame).denominator == 1, (element.tag, name, element.attrib[name])
            checked += 1
    assert checked > 0


# ---------------------------------------------------------------- FCPXML


def test_the_dtd_fixture_is_apples_1_10_dtd():
    text = DTD_PATH.read_text(encoding="utf-8")
    assert "Apple" in text
    assert '<!ATTLIST fcpxml version CDATA #FIXED "1.10">' in text


@pytest.mark.parametrize("set_name", SEGMENT_SETS)
@pytest.mark.parametrize(("rate", "drop", "start"), TIMELINES)
def test_fcpxml_markers_are_valid_and_frame_exact(tmp_path, set_name, rate, drop, start):
    segments = segment_set(set_name)
    path = tmp_path / "markers.fcpxml"
    [written] = fcpxml.write_segments(path, segments, make_timeline(rate, drop, start))

    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n')
    document = read_fcpxml(path)
    assert_fcpxml_times_on_frames(document, rate)
    root = document.getroot()
    assert root.get("version") == "1.10"
    assert fcpxml_seconds(root.find("resources/format").get("frameDuration")) == 1 / rate
    sequence = root.find("library/event/project/sequence")
    assert sequence.get("tcFormat") == ("DF" if drop else "NDF")
    assert fcpxml_seconds(sequence.get("tcStart")) == start / rate
    [clip] = sequence.findall("spine/asset-clip")
    assert fcpxml_seconds(clip.get("offset")) == start / rate
    assert fcpxml_seconds(clip.get("start")) == 0
    clip_frames = fcpxml_seconds(clip.get("duration")) * rate
    assert clip_frames == expected_clip_frames(set_name, rate)
    assert fcpxml_seconds(root.find("resources/asset").get("duration")) * rate == clip_frames

    markers = clip.findall("marker")
    found = [(fcpxml_seconds(m.get("start")) * rate, fcpxml_seconds(m.get("duration")) * rate) for m in markers]
    wanted = [(first, max(1, end - first)) for first, end in expected_markers(set_name, rate)]
    assert found == wanted
    assert written.items == len(segments)
    assert written.skipped == 0


def test_fcpxml_text_survives_escaping(tmp_path):
    path = tmp_path / "hostile.fcpxml"
    fcpxml.write_segments(path, hostile_segments(), timeline())
    markers = read_fcpxml(path).getroot().findall(".//marker")
    values = [m.get("value") for m in markers]
    notes = {m.get("value"): m.get("note") for m in markers}

    assert "Ampersand & <tags> & > signs" in values
    assert "Quotes \"double\" and 'single', commas, and ;semicolons;" in values
    assert "Right to left: שלום עולם and مرحبا بالعالم" in values
    assert "Emoji 🎬🎞️👍🏽 and ZWJ 👩‍👩‍👧" in values
    assert all("\n" not in value and not re.search("[\x00-\x1f]", value) for value in values)
    # The note keeps the line breaks (written as &#10; so attribute normalisation cannot eat them).
    assert notes["Line one Line two Line three after blank lines"] == (
        "Line one\nLine two\nLine three\n\n\nafter blank lines"
    )
    # Truncated names keep the whole text in the note.
    long_name = next(value for value in values if value.startswith("xxx"))
    assert len(long_name) == 255
    assert notes[long_name] == "x" * 600
    # A blank value is not a nameless marker.
    assert "insight" in values
    # Plain values carry no redundant note.
    assert notes["Plain words"] is None


def test_fcpxml_is_read_by_otio_fcpx_xml(tmp_path):
    """OTIO's reader truncates float seconds at an integer rate (23 for 23.976): frames within one."""
    for label, rate, drop, hour in RATES:
        path = tmp_path / f"{label}.fcpxml"
        segments = hostile_segments()
        fcpxml.write_segments(path, segments, make_timeline(rate, drop, hour))
        collection = otio.adapters.read_from_file(str(path), adapter_name="fcpx_xml")
        [read] = list(collection)
        [track] = read.tracks
        gap, clip = list(track)
        reader_rate = int(rate)
        assert isinstance(gap, otio.schema.Gap)
        assert abs(gap.duration().value - hour) <= 1
        assert [m.name for m in clip.markers][:2] == ["Plain words", "Line one Line two Line three after blank lines"]
        assert len(clip.markers) == len(segments)
        for marker, (first, _) in zip(clip.markers, expected_markers("hostile", rate), strict=True):
            read_seconds = marker.marked_range.start_time.value / reader_rate
            assert abs(read_seconds - float(first / rate)) <= 1 / reader_rate


def test_fcpxml_with_known_media_clips_to_it_and_counts_what_is_left_out(tmp_path):
    rate = Fraction(25)
    segments = [
        Segment("in", "t", "inside", 1.0, 2.0),
        Segment("over", "t", "runs past the end", 9.5, 12.0),
        Segment("after", "t", "after the end", 10.0, 11.0),
    ]
    path = tmp_path / "clipped.fcpxml"
    [written] = fcpxml.write_segments(path, segments, make_timeline(rate, False, 0, media_duration=10.0))
    clip = read_fcpxml(path).getroot().find(".//asset-clip")
    assert fcpxml_seconds(clip.get("duration")) == 10
    found = [(fcpxml_seconds(m.get("start")) * rate, fcpxml_seconds(m.get("duration")) * rate) for m in clip]
    # 9.5 s × 25 = 237.5 → frame 238 (half up); its end is cut to the media end, frame 250.
    assert found == [(25, 25), (238, 12)]
    assert (written.items, written.skipped) == (2, 1)


def test_fcpxml_without_segments_is_still_a_valid_one_frame_clip(tmp_path):
    path = tmp_path / "empty.fcpxml"
    [written] = fcpxml.write_segments(path, [], timeline())
    clip = read_fcpxml(path).getroot().find(".//asset-clip")
    assert clip.get("duration") == "1001/24000s"
    assert written.items == 0


def test_fcpxml_lone_surrogates_and_controls_do_not_break_the_file(tmp_path):
    broken = [Segment("s", "t", "bad \ud800 \x00\x1b text", 1.0, 2.0)]
    path = tmp_path / "broken.fcpxml"
    fcpxml.write_segments(path, broken, timeline())
    [marker] = read_fcpxml(path).getroot().iter("marker")
    assert marker.get("value") == "bad text"  # lone surrogate and controls removed, spaces collapsed


@pytest.mark.parametrize("writer", [fcpxml, xmeml, otio_writer])
def test_drop_frame_at_a_rate_without_it_is_refused_before_writing(tmp_path, writer):
    path = tmp_path / "refused"
    with pytest.raises(ValueError, match="drop frame"):
        writer.write_segments(path, hostile_segments(), make_timeline(Fraction(25), True, 0))
    assert not path.exists()


# ---------------------------------------------------------------- xmeml


@pytest.mark.parametrize("set_name", SEGMENT_SETS)
@pytest.mark.parametrize(("rate", "drop", "start"), TIMELINES)
def test_xmeml_is_read_by_otio_fcp_xml_with_exact_marker_frames(tmp_path, set_name, rate, drop, start):
    segments = segment_set(set_name)
    path = tmp_path / "markers.xml"
    [written] = xmeml.write_segments(path, segments, make_timeline(rate, drop, start))

    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE xmeml>\n<xmeml version="4">\n')
    sequence = etree.parse(str(path)).getroot().find("sequence")
    base = {Fraction(24000, 1001): 24, Fraction(30000, 1001): 30, Fraction(60000, 1001): 60}.get(rate, int(rate))
    assert sequence.findtext("rate/timebase") == str(base)
    assert sequence.findtext("rate/ntsc") == ("TRUE" if rate.denominator == 1001 else "FALSE")
    assert sequence.findtext("timecode/displayformat") == ("DF" if drop else "NDF")
    hour = next(h for _, r, d, h in RATES if r == rate and d == drop)
    assert sequence.findtext("timecode/string") == timecode_label(start, hour, drop)
    assert sequence.findtext("name") == "interview.mov comments"

    read = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    assert read.global_start_time.value == start
    assert read.global_start_time.rate == pytest.approx(float(rate), abs=1e-9)
    [track] = read.tracks
    [clip] = list(track)
    assert clip.media_reference.target_url == "file:///demo/interview.mov"
    assert clip.source_range.duration.value == expected_clip_frames(set_name, rate)
    markers = read.tracks.markers
    found = [(m.marked_range.start_time.value, m.marked_range.duration.value) for m in markers]
    assert found == [(first, end - first) for first, end in expected_markers(set_name, rate)]
    assert all(m.marked_range.start_time.rate == pytest.approx(float(rate), abs=1e-9) for m in markers)
    assert written.items == len(segments)


def test_xmeml_text_and_point_markers(tmp_path):
    path = tmp_path / "hostile.xml"
    xmeml.write_segments(path, hostile_segments(), timeline())
    markers = etree.parse(str(path)).getroot().findall("sequence/marker")
    by_name = {m.findtext("name"): m for m in markers}
    assert "Ampersand & <tags> & > signs" in by_name
    assert by_name["Line one Line two Line three after blank lines"].findtext("comment") == (
        "Line one\nLine two\nLine three\n\n\nafter blank lines"
    )
    # A zero-length segment is Premiere's point marker: out = -1.
    assert by_name["zero length"].findtext("out") == "-1"
    assert all("\n" not in name for name in by_name)


# ---------------------------------------------------------------- OTIO


@pytest.mark.parametrize("set_name", SEGMENT_SETS)
@pytest.mark.parametrize(("rate", "drop", "start"), TIMELINES)
def test_otio_reads_back_identically_with_markers_on_the_exact_frame(tmp_path, set_name, rate, drop, start):
    segments = segment_set(set_name)
    path = tmp_path / "markers.otio"
    [written] = otio_writer.write_segments(path, segments, make_timeline(rate, drop, start))

    read = otio.adapters.read_from_file(str(path))
    # What OTIO writes back for what it read is what was written: nothing was lost or misread.
    assert json.loads(otio.adapters.write_to_string(read, "otio_json")) == json.loads(path.read_text("utf-8"))
    assert read.global_start_time.to_frames() == start
    assert read.global_start_time.rate == float(rate)
    [track] = read.tracks
    [clip] = list(track)
    assert clip.media_reference.target_url == "file:///demo/interview.mov"
    assert clip.source_range.duration.to_frames() == expected_clip_frames(set_name, rate)
    by_id = {s.id: s for s in segments}
    frames = expected_frames(set_name, rate)
    for marker in clip.markers:
        source = by_id[marker.metadata["ai_spark"]["id"]]
        first, end = frames[source.id]
        assert marker.marked_range.start_time.to_frames() == first
        assert marker.marked_range.duration.to_frames() == end - first
        assert marker.marked_range.start_time.rate == float(rate)
        assert marker.color == otio.schema.MarkerColor.YELLOW
        assert marker.metadata["ai_spark"]["sdnaEventType"] == source.event_type
        assert marker.metadata["ai_spark"]["confidenceScore"] == source.confidence
    assert len(clip.markers) == written.items == len(segments)


@pytest.mark.parametrize(
    ("data_type", "color"),
    [("transcript", "BLUE"), ("events", "GREEN"), ("comments", "YELLOW"), ("markers", "RED")],
)
def test_otio_marker_colour_follows_the_data_type(tmp_path, data_type, color):
    path = tmp_path / "typed.otio"
    otio_writer.write_segments(path, hostile_segments()[:2], timeline(data_type=data_type))
    clip = otio.adapters.read_from_file(str(path)).tracks[0][0]
    assert {m.color for m in clip.markers} == {color}


def test_otio_text_and_lone_surrogates(tmp_path):
    segments = [*hostile_segments(), Segment("bad", "t", "bad \ud800 text", 1.0, 2.0, confidence=float("nan"))]
    path = tmp_path / "hostile.otio"
    otio_writer.write_segments(path, segments, timeline())
    markers = {m.metadata["ai_spark"]["id"]: m for m in otio.adapters.read_from_file(str(path)).tracks[0][0].markers}
    assert markers["seg-001"].name == "Line one Line two Line three after blank lines"
    assert markers["seg-001"].comment == "Line one\nLine two\nLine three\n\n\nafter blank lines"
    assert markers["seg-010"].name == "Ampersand & <tags> & > signs"
    assert markers["bad"].name == "bad text"
    assert markers["bad"].metadata["ai_spark"]["confidenceScore"] is None
    assert markers["seg-zero"].marked_range.duration.value == 0


# ---------------------------------------------------------------- selects


def spread_ranges() -> list[SelectRange]:
    """Ranges with awkward decimals and gaps, as build_select_ranges gives them."""
    return [
        SelectRange(start=index * 7.123 + 0.0417, end=index * 7.123 + 2.5 + (index % 5) * 0.333, label=f"sel {index}")
        for index in range(300)
    ]


def expected_selects(ranges, rate: Fraction) -> list[tuple[int, int]]:
    """(source start frame, frames) per range, in start order."""
    pairs = [(frame_of(r.start, rate), frame_of(r.end, rate)) for r in sorted(ranges, key=lambda r: r.start)]
    return [(first, end - first) for first, end in pairs]


@pytest.mark.parametrize(("rate", "drop", "start"), TIMELINES)
def test_fcpxml_selects_are_back_to_back_source_ranges(tmp_path, rate, drop, start):
    ranges = spread_ranges()
    path = tmp_path / "selects.fcpxml"
    [written] = fcpxml.write_selects(path, ranges, make_timeline(rate, drop, start))
    document = read_fcpxml(path)
    assert_fcpxml_times_on_frames(document, rate)
    clips = document.getroot().findall(".//spine/asset-clip")
    wanted = expected_selects(ranges, rate)
    assert [(fcpxml_seconds(c.get("start")) * rate, fcpxml_seconds(c.get("duration")) * rate) for c in clips] == wanted
    record = start
    for clip in clips:
        assert fcpxml_seconds(clip.get("offset")) * rate == record
        record += fcpxml_seconds(clip.get("duration")) * rate
    sequence = document.getroot().find(".//sequence")
    assert fcpxml_seconds(sequence.get("duration")) * rate == sum(frames for _, frames in wanted)
    assert clips[0].get("name") == "sel 0"
    assert written.items == len(ranges)


@pytest.mark.parametrize(("rate", "drop", "start"), TIMELINES)
def test_xmeml_selects_are_back_to_back_and_share_one_file(tmp_path, rate, drop, start):
    ranges = spread_ranges()
    path = tmp_path / "selects.xml"
    xmeml.write_selects(path, ranges, make_timeline(rate, drop, start))
    items = etree.parse(str(path)).getroot().findall(".//track/clipitem")
    record = 0
    for item in items:
        source = int(item.findtext("out")) - int(item.findtext("in"))
        assert int(item.findtext("start")) == record
        assert int(item.findtext("end")) - record == source
        record += source
    assert items[0].find("file/pathurl") is not None
    assert all(item.find("file").attrib == {"id": "file-1"} and len(item.find("file")) == 0 for item in items[1:])

    read = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    clips = list(read.tracks[0])
    found = [(c.source_range.start_time.value, c.source_range.duration.value) for c in clips]
    assert found == expected_selects(ranges, rate)
    assert all(c.media_reference.target_url == "file:///demo/interview.mov" for c in clips)


@pytest.mark.parametrize(("rate", "drop", "start"), TIMELINES)
def test_otio_selects_read_back_identically(tmp_path, rate, drop, start):
    ranges = [SelectRange(r.start, r.end, r.label, (f"id-{index}",)) for index, r in enumerate(spread_ranges())]
    path = tmp_path / "selects.otio"
    otio_writer.write_selects(path, ranges, make_timeline(rate, drop, start))
    read = otio.adapters.read_from_file(str(path))
    assert json.loads(otio.adapters.write_to_string(read, "otio_json")) == json.loads(path.read_text("utf-8"))
    clips = list(read.tracks[0])
    found = [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames()) for c in clips]
    assert found == expected_selects(ranges, rate)
    record = 0
    for clip in clips:
        assert clip.range_in_parent().start_time.to_frames() == record
        record += clip.source_range.duration.to_frames()
    assert list(clips[3].metadata["ai_spark"]["sourceIds"]) == ["id-3"]


@pytest.mark.parametrize(("writer", "suffix"), [(fcpxml, "fcpxml"), (xmeml, "xml"), (otio_writer, "otio")])
def test_selects_beyond_known_media_are_cut_or_skipped(tmp_path, writer, suffix):
    ranges = [SelectRange(1.0, 2.0, "in"), SelectRange(9.0, 12.0, "over"), SelectRange(10.0, 11.0, "after")]
    [written] = writer.write_selects(tmp_path / f"s.{suffix}", ranges, make_timeline(Fraction(25), False, 0, 10.0))
    assert (written.items, written.skipped) == (2, 1)


@pytest.mark.parametrize(("writer", "suffix"), [(fcpxml, "fcpxml"), (xmeml, "xml"), (otio_writer, "otio")])
def test_no_selects_still_make_a_file_the_readers_open(tmp_path, writer, suffix):
    path = tmp_path / f"none.{suffix}"
    [written] = writer.write_selects(path, [], timeline())
    assert written.items == 0
    if suffix == "fcpxml":
        read_fcpxml(path)
    else:
        read = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml" if suffix == "xml" else "otio_json")
        assert len(list(read.tracks[0])) == 0
