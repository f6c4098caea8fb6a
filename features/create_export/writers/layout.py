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
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

from features.create_export.text import single_line, truncate, xml_safe
from features.create_export.timecode import SUPPORTED_RATES, exact_seconds, seconds_to_frame, supports_drop_frame
from features.create_export.timeline import Segment, SelectRange, Timeline

# Long enough for any sensible marker name, short enough for an NLE's marker list; the note keeps all.
NAME_LIMIT = 255
_LINE_ENDS = re.compile("\r\n?")
# Attribute values: newlines and tabs as character references so attribute normalisation keeps them.
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


@dataclass(frozen=True, slots=True)
class PlacedMarker:
    """A segment on the clip: frames from the start of the media, `end` exclusive and ≥ `start`."""

    segment: Segment
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class MarkerLayout:
    clip_frames: int
    markers: list[PlacedMarker]
    skipped: int


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


def layout_markers(segments: Iterable[Segment], timeline: Timeline) -> MarkerLayout:
    """Place every segment on the clip, sorted by start; see the module docstring for the limits."""
    rate = timeline.rate
    placed = [PlacedMarker(s, seconds_to_frame(s.start, rate), seconds_to_frame(s.end, rate)) for s in segments]
    placed.sort(key=lambda marker: (marker.start, marker.end, marker.segment.id))
    known = media_frames(timeline)
    if known is None:
        return MarkerLayout(_frames_to_cover(placed, rate), placed, 0)
    inside = [PlacedMarker(m.segment, m.start, min(m.end, known)) for m in placed if m.start < known]
    return MarkerLayout(known, inside, len(placed) - len(inside))


def _frames_to_cover(markers: list[PlacedMarker], rate: Fraction) -> int:
    """The last end rounded up to a whole frame, past every marker's first frame, at least 1."""
    # exact_seconds keeps the order of floats, so only the largest end needs the exact (slow) form.
    last_end = exact_seconds(max((m.segment.end for m in markers), default=0.0))
    last_start = max((m.start for m in markers), default=0)
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


def marker_frames(marker: PlacedMarker) -> int:
    """Marker length for formats without point markers: FCP writes one-frame markers, never zero."""
    return max(1, marker.end - marker.start)


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
    return escape(text)


def xml_attribute(text: str) -> str:
    """A double-quoted attribute value; line breaks and tabs kept as character references."""
    return '"' + escape(text, _ATTRIBUTE_ENTITIES) + '"'


def open_text(path: Path) -> IO[str]:
    """UTF-8, LF; a lone surrogate (invalid in UTF-8 and XML) is written as "?" instead of failing."""
    return path.open("w", encoding="utf-8", errors="replace", newline="\n")
