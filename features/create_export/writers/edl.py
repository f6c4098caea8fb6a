"""CMX 3600 EDLs: a DaVinci Resolve marker EDL per data type, and a cut list for selects.

Layout (FORMAT-FACTS §2): ASCII only, LF line ends, `TITLE:`, `FCM: DROP FRAME` or
`FCM: NON-DROP FRAME`, a blank line, then events in fixed columns

    001  001      V     C        00:00:48:18 00:00:48:19 00:00:48:18 00:00:48:19

(event 1-3, reel 6-13, channel 15-20, edit 21-24, timecodes from column 30; out points exclusive).
Drop-frame timecodes put `;` before the frames, and only under `FCM: DROP FRAME`.

Marker EDL (`write_segments`), laid out exactly like Resolve's "Timeline Markers to EDL" export, which
its "Timeline Markers from EDL" import reads back: each marker is a one-frame cut on reel `001` with
record = the timeline's start plus the segment's start frame and source = the media's start timecode
plus that frame (without probed media source = record, as Resolve writes it), two trailing spaces, then

     |C:ResolveColorBlue |M:<name> |D:<frames>

and a blank line. Name: the value on one line, transliterated to ASCII, `|` replaced by `/`, cut to
80 characters; a segment with no ASCII text left is named after its event type. `D` is the segment's
length in frames, at least 1. Colour per data type: transcript Blue, events Green, comments Yellow,
markers Red (selects Cyan, anything else Pink).
Choice: segments that start on the same frame become ONE marker (distinct names joined with ` / `,
the longest duration). A Resolve timeline holds one marker per frame, and a second event on the same
record frame is an overlap that strict readers (OpenTimelineIO) refuse. `WrittenFile.items` counts
the markers written (the events a reader finds) and `segments` the segments they stand for.

Cut list (`write_selects`): one cut per range on reel `AX` (file-based source), channel `V`, the
asset's file name in a `* FROM CLIP NAME:` comment (left out when the timeline has no path) and the
select's label in a `* COMMENT:` line.
Source in/out are the range's frames from the media's start timecode (00:00:00:00 without probed
media); record in/out follow one another from the
timeline's start, each as long as its source. A range shorter than one frame is widened to one frame.

CMX 3600 numbers events 001-999. Past 999 the events go on in `<stem>_part2.edl`, `<stem>_part3.edl`,
..., each a complete EDL numbered from 001 (record times keep running, so the parts line up).

Issue 14 (CPU): the markers come from the data type's `SegmentTable` (frames, record and source
timecodes and the values are columns computed once and shared with other writers), and each part is
built as a list of events and written in one piece. Names: a C precheck (`text.indexes_to_fix`) finds
the few values that are not already their own name, and only those are cleaned. Markers: found and
counted with C-level comparisons; only the frames that several segments share (about one in eight on
a busy events track) take a step in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import chain, compress, count, islice, repeat
from operator import lt, ne, sub
from pathlib import Path, PureWindowsPath

from features.create_export.segment_table import SegmentTable
from features.create_export.text import (
    ASCII,
    NOT_EMPTY,
    ONE_SPACED,
    PRINTABLE,
    ascii_only,
    fix_some,
    indexes_to_fix,
    is_single_line,
    single_line,
)
from features.create_export.timecode import frame_to_timecode, seconds_to_frame
from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile, open_output

EVENTS_PER_FILE = 999
TITLE_LIMIT = 60
NAME_LIMIT = 80
COMMENT_LIMIT = 100
MARKER_REEL = "001"
SELECTS_REEL = "AX"
RESOLVE_COLOURS = {"transcript": "Blue", "events": "Green", "comments": "Yellow", "markers": "Red", "selects": "Cyan"}
OTHER_COLOUR = "Pink"
NAME_SEPARATOR = " / "
# An event line up to its first timecode, by number in its part: number, reel, channel V, edit C,
# blank transition (FORMAT-FACTS §2.2). Built once: a part repeats the same 999.
_NUMBERS = tuple(f"{number:03d}" for number in range(1, EVENTS_PER_FILE + 1))
_MARKER_EVENT_STARTS = tuple(f"{number}  {MARKER_REEL:<8} {'V':<6}{'C':<4} {'':>3} " for number in _NUMBERS)
_SELECT_EVENT_STARTS = tuple(f"{number}  {SELECTS_REEL:<8} {'V':<6}{'C':<4} {'':>3} " for number in _NUMBERS)
# SegmentTable column keys (the table is shared by every writer of a data type).
MARKER_NAMES = "edl_marker_names"


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write a Resolve marker EDL (more files past 999 markers) and return the files written."""
    table = SegmentTable.of(segments)
    colour = RESOLVE_COLOURS.get(timeline.data_type, OTHER_COLOUR)
    markers = _Markers.of(table, timeline.rate)
    sides = _MarkerTimecodes.of(table, timeline)
    header = _header(timeline)
    files = []
    for first in range(0, max(len(markers.firsts), 1), EVENTS_PER_FILE):
        part = slice(first, first + EVENTS_PER_FILE)
        events = _marker_events(markers, part, sides, colour)
        files.append(_write_part(_part_path(path, len(files) + 1), header, events, sum(markers.counts[part])))
    return files


def write_selects(path: Path, ranges: Sequence[SelectRange], timeline: Timeline) -> list[WrittenFile]:
    """Write the ranges as a cut list, back to back from the timeline's start; return the files written."""
    clip_name = _edl_text(PureWindowsPath(timeline.full_path).name, NAME_LIMIT)
    record = timeline.start_frame
    events = []
    for index, select in enumerate(ranges):
        source_in = timeline.source_offset + seconds_to_frame(select.start, timeline.rate)
        # Zero-length events are dropped by importers (FORMAT-FACTS §9.5).
        source_out = max(timeline.source_offset + seconds_to_frame(select.end, timeline.rate), source_in + 1)
        frames = (source_in, source_out, record, record + source_out - source_in)
        label = _edl_text(select.label, COMMENT_LIMIT)
        events.append(_select_event(index % EVENTS_PER_FILE, frames, clip_name, label, timeline))
        record = frames[3]
    header = _header(timeline)
    files = []
    for first in range(0, max(len(events), 1), EVENTS_PER_FILE):
        files.append(_write_part(_part_path(path, len(files) + 1), header, events[first : first + EVENTS_PER_FILE]))
    return files


@dataclass(slots=True)
class _Markers:
    """One marker per start frame, in frame order, as columns: the index of its first segment in the
    table, its duration in frames, its name and how many segments it stands for."""

    firsts: list[int]
    durations: list[int]
    names: list[str]
    counts: list[int]

    @classmethod
    def of(cls, table: SegmentTable, rate: Fraction) -> _Markers:
        starts, ends = table.start_frames(rate), table.end_frames(rate)
        names = table.column(MARKER_NAMES, lambda _: _marker_names(table))
        firsts = _first_of_each_frame(starts)
        # The next marker's first segment (or the table's end) minus this one's.
        counts = list(map(sub, chain(islice(firsts, 1, None), (len(starts),)), firsts))
        durations = [ends[first] - starts[first] if ends[first] > starts[first] else 1 for first in firsts]
        markers = cls(firsts, durations, list(map(names.__getitem__, firsts)), counts)
        # Segments on one frame (few): the longest of their durations, their distinct names.
        for marker in compress(count(), map(lt, repeat(1), counts)):
            first, last = firsts[marker], firsts[marker] + counts[marker]
            markers.durations[marker] = max(max(ends[first:last]) - starts[first], 1)
            markers.names[marker] = _merged_name(names[first:last])
        return markers


def _first_of_each_frame(starts: list[int]) -> list[int]:
    """The positions whose start frame differs from the one before (and 0): each marker's first segment."""
    if not starts:
        return []
    # Compared in C, a step per position saved (the table is sorted, so equal frames are neighbours).
    return [0, *compress(range(1, len(starts)), map(ne, islice(starts, 1, None), starts))]


def _merged_name(names: list[str]) -> str:
    """The distinct names of segments on one frame, joined, cut to the limit."""
    kept = [names[0]]
    joined = len(names[0])  # len(NAME_SEPARATOR.join(kept)), kept as the names are added
    for name in islice(names, 1, None):
        # Past the limit the name is cut anyway; stop growing it (thousands may share a frame).
        if joined >= NAME_LIMIT:
            break
        if name and name not in kept:
            kept.append(name)
            joined += len(NAME_SEPARATOR) + len(name)
    return _cut(NAME_SEPARATOR.join(kept), NAME_LIMIT)


def _marker_names(table: SegmentTable) -> list[str]:
    """`_marker_name` of every segment: only the values that are not already their own name (few) are
    cleaned; the rest pass the checks `_edl_text` would make (`_is_one_plain_ascii_line`, no `|`, short)."""
    segments = table.segments
    fixes = indexes_to_fix(table.values(), "|", NAME_LIMIT, ASCII | PRINTABLE | ONE_SPACED | NOT_EMPTY)
    return fix_some(table.values(), lambda row: _marker_name(segments[row]), fixes)


def _marker_name(segment: Segment) -> str:
    return _edl_text(segment.value, NAME_LIMIT) or _edl_text(segment.event_type, NAME_LIMIT) or "marker"


@dataclass(slots=True)
class _MarkerTimecodes:
    """Per segment, the timecodes of a one-frame cut on its start frame: source in/out, record in/out."""

    source_in: list[str]
    source_out: list[str]
    record_in: list[str]
    record_out: list[str]

    @classmethod
    def of(cls, table: SegmentTable, timeline: Timeline) -> _MarkerTimecodes:
        rate, drop_frame = timeline.rate, timeline.drop_frame
        record_in = table.start_timecodes(rate, drop_frame, timeline.start_frame)
        record_out = table.start_timecodes(rate, drop_frame, timeline.start_frame + 1)
        if timeline.source_start_frame is None:
            # Without probed media the source side is the record side, as Resolve's own marker export writes it.
            return cls(record_in, record_out, record_in, record_out)
        source_in = table.start_timecodes(rate, drop_frame, timeline.source_start_frame)
        source_out = table.start_timecodes(rate, drop_frame, timeline.source_start_frame + 1)
        return cls(source_in, source_out, record_in, record_out)


def _marker_events(markers: _Markers, part: slice, sides: _MarkerTimecodes, colour: str) -> list[str]:
    """The events of one part (numbered from 001), each ending in a blank line."""
    # zip is not strict: the part's numbers are the first len(part) of 999.
    # Resolve ends event lines with two spaces; its importer is the reader this file is for.
    return [
        f"{_MARKER_EVENT_STARTS[number]}{sides.source_in[first]} {sides.source_out[first]} "
        f"{sides.record_in[first]} {sides.record_out[first]}  \n |C:ResolveColor{colour} |M:{name} |D:{duration}\n\n"
        for number, first, name, duration in zip(
            range(EVENTS_PER_FILE), markers.firsts[part], markers.names[part], markers.durations[part], strict=False
        )
    ]


def _select_event(number: int, frames: tuple[int, int, int, int], clip: str, label: str, timeline: Timeline) -> str:
    """`number`: the event's place in its part, from 0."""
    source_in, source_out, record_in, record_out = (
        frame_to_timecode(frame, timeline.rate, timeline.drop_frame) for frame in frames
    )
    lines = [f"{_SELECT_EVENT_STARTS[number]}{source_in} {source_out} {record_in} {record_out}"]
    if clip:  # a work order by event ids alone may not name the asset's path
        lines.append(f"* FROM CLIP NAME: {clip}")
    if label:
        lines.append(f"* COMMENT: {label}")
    return "\n".join(lines) + "\n\n"


def _edl_text(text: str, limit: int) -> str:
    """One line of printable ASCII without `|` (Resolve's field separator), at most `limit` characters."""
    if not _is_one_plain_ascii_line(text):
        text = single_line(ascii_only(text))
    return _cut(text.replace("|", "/"), limit)


def _is_one_plain_ascii_line(text: str) -> bool:
    """True when `single_line(ascii_only(text))` is `text` itself (most catalog values), so the
    normalisation and the regexes can be skipped: printable ASCII has no decomposition, line break
    or control, and single spaces inside are kept."""
    return text.isascii() and is_single_line(text)


def _cut(text: str, limit: int) -> str:
    # text.truncate's ellipsis is not ASCII; EDLs get three dots.
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _part_path(path: Path, number: int) -> Path:
    """The first part is `path`, then `<stem>_part2.edl`, `<stem>_part3.edl` ..."""
    return path if number == 1 else path.with_name(f"{path.stem}_part{number}.edl")


def _write_part(path: Path, header: str, events: list[str], segments: int | None = None) -> WrittenFile:
    """One complete EDL of at most 999 events, written in one piece.

    `segments`: how many segments the events stand for, when the format merges them (markers)."""
    with open_output(path, encoding="ascii", newline="\n") as stream:
        stream.write(header + "".join(events))
    return WrittenFile(path=path, items=len(events), segments=segments)


def _header(timeline: Timeline) -> str:
    title = _edl_text(timeline.title, TITLE_LIMIT) or "AI Spark"
    mode = "DROP FRAME" if timeline.drop_frame else "NON-DROP FRAME"
    return f"TITLE: {title}\nFCM: {mode}\n\n"
