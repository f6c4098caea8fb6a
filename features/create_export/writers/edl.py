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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from types import TracebackType
from typing import TextIO

from features.create_export.text import ascii_only, single_line
from features.create_export.timecode import frame_to_timecode, seconds_to_frame
from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile

EVENTS_PER_FILE = 999
TITLE_LIMIT = 60
NAME_LIMIT = 80
COMMENT_LIMIT = 100
MARKER_REEL = "001"
SELECTS_REEL = "AX"
RESOLVE_COLOURS = {"transcript": "Blue", "events": "Green", "comments": "Yellow", "markers": "Red", "selects": "Cyan"}
OTHER_COLOUR = "Pink"
NAME_SEPARATOR = " / "


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write a Resolve marker EDL (more files past 999 markers) and return the files written."""
    colour = RESOLVE_COLOURS.get(timeline.data_type, OTHER_COLOUR)
    ordered = sorted(segments, key=lambda segment: (segment.start, segment.id))
    with _EdlParts(path, timeline, merges=True) as parts:
        for marker in _markers(ordered, timeline):
            number = parts.next_event(segments=marker.items)
            parts.write(_marker_event(number, marker, colour, timeline))
    return parts.files


def write_selects(path: Path, ranges: Sequence[SelectRange], timeline: Timeline) -> list[WrittenFile]:
    """Write the ranges as a cut list, back to back from the timeline's start; return the files written."""
    clip_name = _edl_text(PureWindowsPath(timeline.full_path).name, NAME_LIMIT)
    record = timeline.start_frame
    with _EdlParts(path, timeline) as parts:
        for select in ranges:
            source_in = timeline.source_offset + seconds_to_frame(select.start, timeline.rate)
            # Zero-length events are dropped by importers (FORMAT-FACTS §9.5).
            source_out = max(timeline.source_offset + seconds_to_frame(select.end, timeline.rate), source_in + 1)
            frames = (source_in, source_out, record, record + source_out - source_in)
            label = _edl_text(select.label, COMMENT_LIMIT)
            number = parts.next_event()
            parts.write(_select_event(number, frames, clip_name, label, timeline))
            record = frames[3]
    return parts.files


@dataclass
class _Marker:
    frame: int
    duration: int
    names: list[str] = field(default_factory=list)
    items: int = 1

    def absorb(self, name: str, duration: int) -> None:
        """Fold another segment on the same frame into this marker."""
        self.items += 1
        self.duration = max(self.duration, duration)
        # Past the limit the name is cut anyway; stop growing it (thousands may share a frame).
        if name and name not in self.names and len(NAME_SEPARATOR.join(self.names)) < NAME_LIMIT:
            self.names.append(name)

    def name(self) -> str:
        return _cut(NAME_SEPARATOR.join(self.names), NAME_LIMIT)


def _markers(ordered: Iterable[Segment], timeline: Timeline) -> Iterator[_Marker]:
    """One marker per start frame, in frame order."""
    current: _Marker | None = None
    for segment in ordered:
        start = seconds_to_frame(segment.start, timeline.rate)
        duration = max(1, seconds_to_frame(segment.end, timeline.rate) - start)
        name = _marker_name(segment)
        if current is not None and current.frame == start:
            current.absorb(name, duration)
            continue
        if current is not None:
            yield current
        current = _Marker(frame=start, duration=duration, names=[name])
    if current is not None:
        yield current


def _marker_name(segment: Segment) -> str:
    return _edl_text(segment.value, NAME_LIMIT) or _edl_text(segment.event_type, NAME_LIMIT) or "marker"


def _marker_event(number: int, marker: _Marker, colour: str, timeline: Timeline) -> str:
    record = timeline.start_frame + marker.frame
    # Without probed media the source side is the record side, as Resolve's own marker export writes it.
    source = record if timeline.source_start_frame is None else timeline.source_start_frame + marker.frame
    line = _event_line(number, MARKER_REEL, (source, source + 1, record, record + 1), timeline)
    # Resolve ends event lines with two spaces; its importer is the reader this file is for.
    return f"{line}  \n |C:ResolveColor{colour} |M:{marker.name()} |D:{marker.duration}\n\n"


def _select_event(number: int, frames: tuple[int, int, int, int], clip: str, label: str, timeline: Timeline) -> str:
    lines = [_event_line(number, SELECTS_REEL, frames, timeline)]
    if clip:  # a work order by event ids alone may not name the asset's path
        lines.append(f"* FROM CLIP NAME: {clip}")
    if label:
        lines.append(f"* COMMENT: {label}")
    return "\n".join(lines) + "\n\n"


def _event_line(number: int, reel: str, frames: tuple[int, int, int, int], timeline: Timeline) -> str:
    """A CMX 3600 cut in fixed columns: number, reel, channel V, edit C, blank transition, 4 timecodes."""
    source_in, source_out, record_in, record_out = (
        frame_to_timecode(frame, timeline.rate, timeline.drop_frame) for frame in frames
    )
    return f"{number:03d}  {reel:<8} {'V':<6}{'C':<4} {'':>3} {source_in} {source_out} {record_in} {record_out}"


def _edl_text(text: str, limit: int) -> str:
    """One line of printable ASCII without `|` (Resolve's field separator), at most `limit` characters."""
    return _cut(single_line(ascii_only(text)).replace("|", "/"), limit)


def _cut(text: str, limit: int) -> str:
    # text.truncate's ellipsis is not ASCII; EDLs get three dots.
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


class _EdlParts:
    """The EDL file(s) of one export: a new complete EDL every 999 events, `<stem>_partN.edl`."""

    def __init__(self, path: Path, timeline: Timeline, merges: bool = False) -> None:
        self._path = path
        self._merges = merges  # events stand for several segments: count those too
        self._header = _header(timeline)
        self._stream: TextIO | None = None
        self._events = 0
        self._segments: int | None = None
        self.files: list[WrittenFile] = []

    def __enter__(self) -> _EdlParts:
        self._open_next()
        return self

    def next_event(self, segments: int = 1) -> int:
        """The number of the next event in its file, starting the next part when this one is full.

        `segments`: how many segments the event stands for, when the format merges them (markers)."""
        if self._events == EVENTS_PER_FILE:
            self._close()
            self._open_next()
        self._events += 1
        if self._segments is not None:
            self._segments += segments
        return self._events

    def write(self, text: str) -> None:
        if self._stream is None:
            raise RuntimeError("the EDL is closed")
        self._stream.write(text)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._close()

    def _open_next(self) -> None:
        number = len(self.files) + 1
        path = self._path if number == 1 else self._path.with_name(f"{self._path.stem}_part{number}.edl")
        self._stream = path.open("w", encoding="ascii", newline="\n")
        self._stream.write(self._header)
        self._events = 0
        self._segments = 0 if self._merges else None
        self.files.append(WrittenFile(path=path, items=0))

    def _close(self) -> None:
        if self._stream is None:
            return
        self._stream.close()
        self._stream = None
        self.files[-1] = WrittenFile(path=self.files[-1].path, items=self._events, segments=self._segments)


def _header(timeline: Timeline) -> str:
    title = _edl_text(timeline.title, TITLE_LIMIT) or "AI Spark"
    mode = "DROP FRAME" if timeline.drop_frame else "NON-DROP FRAME"
    return f"TITLE: {title}\nFCM: {mode}\n\n"
