"""Where segments and selects land on the one-clip timelines written as FCPXML, xmeml and OTIO.

The three timeline writers share one placement so a marker sits on the same frame in all of them:

- Frames are the nearest frame to the exact decimal seconds, halves up (timecode.seconds_to_frame),
  start and end computed separately (FORMAT-FACTS §1.2). The media starts at frame 0 (the timeline
  carries no source timecode); the record side starts at `timeline.start_frame`.
- The clip is the whole media when its duration is known. A marker that starts at or after the end
  of known media cannot point at anything the editor can see: it is left out and counted in
  `skipped`, and a marker running past the end is shortened to it. When the duration is unknown the
  clip is made long enough to hold every marker (the last end rounded up, at least one frame), as
  markers outside a clip are hidden.
- Selects follow the same rule: a range is cut to the known media, dropped when nothing of it is
  left, and the kept ranges are laid back to back from record frame 0.

Text helpers here give the one-line marker name and the full note the XML and OTIO writers share,
plus the XML escaping they stream with (no DOM: a file can hold 100,000 markers).

Issue 14: the three writers of a data type are handed one `SegmentTable`, and everything here that
they share (the placement, the names, the notes, their XML escaping) is a column of it, computed by
the first writer and reused by the next. The layout holds columns (the table positions of the placed
segments and their frames) rather than an object per marker, and the text columns skip the
clean-up regexes and the escaping for the text that has nothing to clean or escape, which is nearly
all of it. Writers join a chunk of markers into one write (CHUNK, see `write_in_chunks`).
"""

from __future__ import annotations

import math
import posixpath
import re
import sys
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from itertools import compress, islice
from operator import eq
from pathlib import Path
from typing import IO, TypeVar

from features.create_export.segment_table import SegmentTable
from features.create_export.text import (
    NOT_EMPTY,
    ONE_SPACED,
    PRINTABLE,
    fix_some,
    indexes_to_fix,
    is_single_line,
    single_line,
    truncate,
    xml_safe,
)
from features.create_export.timecode import SUPPORTED_RATES, exact_seconds, seconds_to_frame, supports_drop_frame
from features.create_export.timeline import Segment, SelectRange, Timeline, open_output

T = TypeVar("T")

# Long enough for any sensible marker name, short enough for an NLE's marker list; the note keeps all.
NAME_LIMIT = 255
_LINE_ENDS = re.compile("\r\n?")
# What `_name_as_is` checks (with the length): a non-empty value passing these is its own name.
AS_IS_NAME = PRINTABLE | ONE_SPACED | NOT_EMPTY
# Markers joined into one write: few writes, and no one join long enough to hold the GIL for long.
CHUNK = 2000


@dataclass(frozen=True, slots=True)
class MarkerLayout:
    """The placed segments as columns, in placing order (start frame, end frame, id).

    `rows` are the segments' positions in the table; `starts` and `ends` their frames from the start
    of the media, `end` exclusive and ≥ `start`. A table's columns come in table order: `placed` puts
    one in placing order.
    """

    clip_frames: int
    rows: list[int]
    starts: list[int]
    ends: list[int]
    skipped: int

    def placed(self, column: list[T]) -> list[T]:
        return list(map(column.__getitem__, self.rows))


@dataclass(frozen=True, slots=True)
class PlacedSelect:
    """A select as a clip: `source_start` in the media, `record_start` from the sequence start."""

    select: SelectRange
    source_start: int
    record_start: int
    frames: int


@dataclass(frozen=True, slots=True)
class SelectLayout:
    asset_frames: int
    clips: list[PlacedSelect]
    skipped: int

    @property
    def record_frames(self) -> int:
        return sum(clip.frames for clip in self.clips)


def check_timeline(timeline: Timeline) -> None:
    """Refuse a timeline no NLE could open, before a half-written file exists."""
    if timeline.rate not in SUPPORTED_RATES:
        raise ValueError(f"frame rate {timeline.rate} is not a supported timeline rate")
    if timeline.drop_frame and not supports_drop_frame(timeline.rate):
        raise ValueError(f"drop frame does not exist at {SUPPORTED_RATES[timeline.rate]} fps")
    if timeline.start_frame < 0:
        raise ValueError(f"start frame {timeline.start_frame} is before 00:00:00:00")


def media_frames(timeline: Timeline) -> int | None:
    """The media's length in frames (at least one), or None when it is not known."""
    if timeline.media_duration is None:
        return None
    return max(1, seconds_to_frame(timeline.media_duration, timeline.rate))


def layout_markers(table: SegmentTable, timeline: Timeline) -> MarkerLayout:
    """Place every segment on the clip, sorted by start; see the module docstring for the limits."""
    rate = timeline.rate
    known = media_frames(timeline)
    return table.column(("marker_layout", rate, known), lambda _: _layout(table, rate, known))


def _layout(table: SegmentTable, rate: Fraction, known: int | None) -> MarkerLayout:
    rows = _placing_order(table, rate)
    starts = list(map(table.start_frames(rate).__getitem__, rows))
    ends = list(map(table.end_frames(rate).__getitem__, rows))
    if known is None:
        return MarkerLayout(_frames_to_cover(table, starts, rate), rows, starts, ends, 0)
    # Starts are sorted, so the markers that start inside the media are the first ones.
    inside = bisect_left(starts, known)
    clipped = [end if end < known else known for end in ends[:inside]]
    return MarkerLayout(known, rows[:inside], starts[:inside], clipped, len(rows) - inside)


def _placing_order(table: SegmentTable, rate: Fraction) -> list[int]:
    """Table positions by (start frame, end frame, id), ties in table order.

    The table is in (start, id) order and frames keep the order of times, so only the segments that
    start on one frame (next to each other in the table) need sorting, by (end frame, id): many small
    sorts instead of one of every segment (which held the GIL for 100 ms on 100,000 events).
    """
    starts, ends = table.start_frames(rate), table.end_frames(rate)
    ids = table.ids()
    rows = list(range(len(starts)))
    for first, last in _runs_of_equal(starts):
        rows[first:last] = sorted(rows[first:last], key=lambda row: (ends[row], ids[row]))
    return rows


def _runs_of_equal(values: list[int]) -> Iterator[tuple[int, int]]:
    """`(first, last)` (last exclusive) of every run of two or more equal neighbours."""
    # The positions equal to the one before, found without a Python step per value.
    repeats = compress(range(1, len(values)), map(eq, values, islice(values, 1, None)))
    first = last = 0
    for position in repeats:
        if position != last:
            if last:
                yield first, last
            first = position - 1
        last = position + 1
    if last:
        yield first, last


def _frames_to_cover(table: SegmentTable, starts: list[int], rate: Fraction) -> int:
    """The last end rounded up to a whole frame, past every marker's first frame, at least 1."""
    # exact_seconds keeps the order of floats, so only the largest end needs the exact (slow) form.
    last_end = exact_seconds(max(table.ends(), default=0.0))
    last_start = starts[-1] if starts else 0
    return max(1, math.ceil(last_end * rate), last_start + 1)


def layout_selects(ranges: Iterable[SelectRange], timeline: Timeline) -> SelectLayout:
    """Turn ranges into clips laid back to back; ranges with no frame left are counted in `skipped`."""
    rate = timeline.rate
    known = media_frames(timeline)
    clips: list[PlacedSelect] = []
    skipped = 0
    record = 0
    for select in sorted(ranges, key=lambda select: (select.start, select.end)):
        start = seconds_to_frame(select.start, rate)
        end = seconds_to_frame(select.end, rate)
        if known is not None:
            end = min(end, known)
        if end <= start:
            skipped += 1
            continue
        clips.append(PlacedSelect(select, start, record, end - start))
        record += end - start
    last_end = max((clip.source_start + clip.frames for clip in clips), default=1)
    return SelectLayout(known if known is not None else last_end, clips, skipped)


def display_name(text: str) -> str:
    """One line, XML-safe, at most NAME_LIMIT characters."""
    return truncate(single_line(xml_safe(text)), NAME_LIMIT)


def marker_name(segment: Segment) -> str:
    """The segment's value as a name; a blank value falls back to the event type so it is findable."""
    return display_name(segment.value) or display_name(segment.event_type) or "marker"


def marker_note(segment: Segment, name: str) -> str:
    """The full text with its line breaks, or "" when it would only repeat the name."""
    note = _LINE_ENDS.sub("\n", xml_safe(segment.value)).strip()
    return "" if note == name else note


def marker_names(table: SegmentTable) -> list[str]:
    """`marker_name` of every segment, in table order."""
    return _marker_names_and_fixes(table)[0]


def marker_notes(table: SegmentTable) -> list[str]:
    """`marker_note` of every segment, in table order."""

    def compute(segments: list[Segment]) -> list[str]:
        # A name equal to its value is the value with nothing cleaned, whose note is that name again:
        # only the segments whose name was cleaned can have a note.
        names, fixes = _marker_names_and_fixes(table)
        notes = [""] * len(segments)
        for row in fixes:
            segment = segments[row]
            notes[row] = "" if names[row] == segment.value else marker_note(segment, names[row])
        return notes

    return table.column("marker_notes", compute)


def _marker_names_and_fixes(table: SegmentTable) -> tuple[list[str], list[int]]:
    """The names column, and the rows whose name is not their value as it is (`_name_as_is`)."""

    def compute(segments: list[Segment]) -> tuple[list[str], list[int]]:
        fixes = indexes_to_fix(table.values(), "", NAME_LIMIT, AS_IS_NAME)
        return fix_some(table.values(), lambda row: marker_name(segments[row]), fixes), fixes

    return table.column("marker_names_and_fixes", compute)


def xml_marker_names(table: SegmentTable) -> list[str]:
    """`xml_text` of every marker name, in table order."""
    return table.column("xml_marker_names", lambda _: xml_texts(marker_names(table)))


def xml_marker_notes(table: SegmentTable) -> list[str]:
    """`xml_text` of every marker note, in table order."""
    return table.column("xml_marker_notes", lambda _: xml_texts(marker_notes(table)))


def _name_as_is(text: str) -> str:
    """The text when it is its own display name (nearly always), else "", without a regex.

    Every character display_name removes or replaces (controls, line and paragraph separators,
    surrogates, non-characters) is unprintable, and the one printable change it makes is to a run of
    spaces; so printable text with no double space and nothing to strip or cut is left as it is.
    `marker_names` makes the same check (AS_IS_NAME) of a whole column at once; this is its reference.
    """
    if len(text) <= NAME_LIMIT and is_single_line(text):
        return text
    return ""


def clip_name(select: SelectRange) -> str:
    return display_name(select.label) or "select"


def timeline_name(timeline: Timeline) -> str:
    return display_name(timeline.title) or asset_name(timeline)


def asset_name(timeline: Timeline) -> str:
    """The media's file name, as editors know the clip; the title when there is no path."""
    name = posixpath.basename(timeline.full_path.replace("\\", "/").rstrip("/"))
    return display_name(name) or display_name(timeline.title) or "media"


def xml_text(text: str) -> str:
    """Element content: `& < >` escaped (`>` too, so `]]>` cannot appear)."""
    if "&" not in text and "<" not in text and ">" not in text:
        return text
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def xml_texts(texts: list[str]) -> list[str]:
    """`xml_text` of each text; only the texts holding something to escape are looked at again."""
    return fix_some(texts, lambda index: xml_text(texts[index]), indexes_to_fix(texts, "&<>", sys.maxsize, 0))


def xml_attribute(text: str) -> str:
    """A double-quoted attribute value; line breaks and tabs kept as character references."""
    return '"' + attribute_from_xml_text(xml_text(text)) + '"'


def attribute_from_xml_text(escaped: str) -> str:
    """Element content (`xml_text`) made an attribute value, without the quotes around it."""
    # Line breaks and tabs as character references, so attribute-value normalisation keeps them.
    return escaped.replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def attributes_from_xml_texts(texts: list[str]) -> list[str]:
    """`attribute_from_xml_text` of each text; only those with a quote or an unprintable character (few)
    are looked at again: a line break and a tab are unprintable, and so is every other change."""
    changed = indexes_to_fix(texts, '"', sys.maxsize, PRINTABLE)
    return fix_some(texts, lambda index: attribute_from_xml_text(texts[index]), changed)


def write_in_chunks(out: IO[str], pieces: Iterable[str]) -> None:
    """Write the pieces CHUNK at a time, each chunk joined into one write."""
    pieces = iter(pieces)
    while chunk := list(islice(pieces, CHUNK)):
        out.write("".join(chunk))


def open_text(path: Path) -> IO[str]:
    """UTF-8, LF; a lone surrogate (invalid in UTF-8 and XML) is written as "?" instead of failing."""
    return open_output(path, encoding="utf-8", errors="replace", newline="\n")
