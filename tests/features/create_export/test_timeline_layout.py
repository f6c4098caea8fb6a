"""writers/layout.py as columns of a SegmentTable (issue 14): the fast paths give what the per-segment
functions give, and the three timeline writers share one table's work.

The writers' own tests (test_timeline_writers.py) read the files back; these check the shortcuts
those files are written with against the slow, obvious forms.
"""

from __future__ import annotations

import random
from fractions import Fraction
from xml.sax.saxutils import escape

import pytest

from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import SUPPORTED_RATES, fcpxml_time, fcpxml_times_at, seconds_to_frame
from features.create_export.timeline import Segment
from features.create_export.writers import fcpxml, layout, xmeml
from features.create_export.writers import otio as otio_writer
from tests.features.create_export.samples import hostile_segments, timeline

TRICKY_VALUES = [
    "",
    " ",
    "  two  spaces  ",
    " leading",
    "trailing ",
    "tab\there",
    "nbsp\u00a0inside",
    "\u00a0nbsp at the start",
    "line\u2028separator",
    "next line\x85",
    "zero\u200bwidth",
    "ideographic\u3000space",
    "lone \ud800 surrogate",
    "non-character \ufffe",
    "cr\r\nlf\rcr",
    'quote " and & < >',
    "x" * 255,
    "y" * 256,
    "emoji 🎬👍🏽",
    "\x00\x07",
]


def tricky_segments() -> list[Segment]:
    segments = hostile_segments()
    for index, value in enumerate(TRICKY_VALUES):
        segments.append(Segment(id=f"tricky-{index:02d}", event_type=" type\n", value=value, start=80.0, end=81.0))
    segments.append(Segment(id="tricky-blank-type", event_type="\n", value="\t", start=82.0, end=82.0))
    return segments


def test_a_printable_character_is_never_changed_by_display_name():
    """The premise of the name fast path: only unprintable characters and space runs are cleaned."""
    changed = [
        hex(code)
        for code in range(0x110000)
        if (text := f"a{chr(code)}a").isprintable() and layout.display_name(text) != text
    ]
    assert changed == []


def test_name_and_note_columns_are_the_per_segment_names_and_notes():
    table = SegmentTable(tricky_segments())
    names = [layout.marker_name(segment) for segment in table]
    assert layout.marker_names(table) == names
    assert layout.marker_notes(table) == [layout.marker_note(s, name) for s, name in zip(table, names, strict=True)]
    assert layout.xml_marker_names(table) == [escape(name) for name in names]


def test_xml_escaping_is_saxutils_escaping():
    rng = random.Random(3)
    alphabet = 'ab &<>"\n\r\t\u00a0é🎬'
    texts = ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(2000)]
    entities = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
    assert layout.xml_texts(texts) == [escape(text) for text in texts]
    assert [layout.xml_attribute(text) for text in texts] == [f'"{escape(text, entities)}"' for text in texts]
    escaped = layout.attributes_from_xml_texts(layout.xml_texts(texts))
    assert escaped == [escape(text, entities) for text in texts]


@pytest.mark.parametrize("known_seconds", [None, 30.0])
def test_placing_order_is_start_frame_end_frame_id(known_seconds):
    """Segments on one frame are many; the layout sorts them as one sort of every segment would."""
    rng = random.Random(5)
    segments = [
        Segment(id=f"s-{rng.randint(0, 99):02d}", event_type="t", value="v", start=start, end=start + rng.random())
        for start in (round(rng.uniform(0, 40), 2) for _ in range(3000))
    ]
    line = timeline(media_duration=known_seconds)
    rate = line.rate
    placed = sorted((seconds_to_frame(s.start, rate), seconds_to_frame(s.end, rate), s.id) for s in segments)
    table = SegmentTable(segments)
    result = layout.layout_markers(table, line)
    if known_seconds is not None:
        known = seconds_to_frame(known_seconds, rate)
        placed = [(start, min(end, known), id_) for start, end, id_ in placed if start < known]
    ids = [segment.id for segment in result.placed(table.segments)]
    assert list(zip(result.starts, result.ends, ids, strict=True)) == placed
    assert result.skipped == len(segments) - len(placed)


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES))
def test_fcpxml_times_of_a_column_are_fcpxml_time(rate: Fraction):
    frames = [*range(0, 3000), 86400, 107892, 10**12 + 7]
    assert fcpxml_times_at(frames, rate) == [fcpxml_time(frame, rate) for frame in frames]


def test_the_three_writers_share_one_tables_layout_and_write_what_a_list_gives(tmp_path):
    segments = tricky_segments()
    line = timeline(media_duration=75.0)
    table = SegmentTable(segments)
    for writer, suffix in ((fcpxml, "fcpxml"), (xmeml, "xml"), (otio_writer, "otio")):
        writer.write_segments(tmp_path / f"table.{suffix}", table, line)
        writer.write_segments(tmp_path / f"list.{suffix}", list(reversed(segments)), line)
        assert (tmp_path / f"table.{suffix}").read_bytes() == (tmp_path / f"list.{suffix}").read_bytes()
    assert layout.layout_markers(table, line) is layout.layout_markers(table, line)
    assert layout.layout_markers(table, timeline(media_duration=None)) is not layout.layout_markers(table, line)
