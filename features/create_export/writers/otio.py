"""OpenTimelineIO export (`.otio`, the otio_json serialisation), readable by `otio` and the NLEs it feeds.

Layout, exactly as opentimelineio 0.18 serialises it (Timeline.1 > Stack.1 > Track.1 "Video"):

    segments: one Clip.2 of the whole media (ExternalReference.1 to the media URL) holding one
              Marker.2 per segment, on the clip's source time
    selects:  one Clip.2 per select, source_range = the select, back to back in the track

Choices:
- The JSON is streamed here rather than built with the opentimelineio objects: building 100,000
  markers with the library took about 25 s (mostly converting each marker's metadata dict); writing
  them directly takes a fraction of a second and a bounded amount of memory. The tests read every
  file back with opentimelineio and require its own re-serialisation to be identical to what was
  written. Markers are spelled from the columns of the shared layout (writers/layout.py) with the
  JSON encoder's own string and number spellings, not a `json.dumps` per marker (issue 14).
- Times are `RationalTime(frame, float(rate))`, which is how OTIO spells 24000/1001; the value is
  the exact frame, so `to_frames()` gives it back. `global_start_time` is timeline.start_frame.
- Source times (the clip's `source_range`, the media's `available_range`, markers, which live in
  the clip's source time) start at the media's own start timecode; 00:00:00:00 without probed media.
- Marker colour tells the data type apart (transcript BLUE, events GREEN, comments YELLOW,
  markers RED; anything else RED, OTIO's default). Markers keep their true length: a segment shorter
  than a frame is a zero-duration (point) marker, which OTIO allows.
- Marker `name` is the one-line name; `comment` the full text with line breaks when it differs;
  `metadata.ai_spark` carries id, sdnaEventType and confidenceScore (null when unknown or not finite).
- Where markers or selects reach past known media, see writers/layout.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any

from features.create_export.segment_table import SegmentTable
from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile
from features.create_export.writers.layout import (
    MarkerLayout,
    PlacedSelect,
    asset_name,
    check_timeline,
    clip_name,
    layout_markers,
    layout_selects,
    marker_names,
    marker_notes,
    open_text,
    timeline_name,
    write_in_chunks,
)

METADATA_KEY = "ai_spark"
MARKER_COLORS = {"transcript": "BLUE", "events": "GREEN", "comments": "YELLOW", "markers": "RED"}
DEFAULT_MARKER_COLOR = "RED"
TRACK_NAME = "V1"
EXACT_FLOAT_LIMIT = 2**53


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """A timeline whose one clip is the whole media, with a marker per segment."""
    check_timeline(timeline)
    table = SegmentTable.of(segments)
    layout = layout_markers(table, timeline)
    rate = float(timeline.rate)
    with open_text(path) as out:
        _write_head(out, timeline)
        out.write(_clip_head(asset_name(timeline), timeline.source_offset, layout.clip_frames, {}, rate))
        write_in_chunks(out, _markers(table, layout, timeline))
        out.write("\n" + _clip_tail(timeline, layout.clip_frames))
        _write_tail(out)
    return [WrittenFile(path=path, items=len(layout.rows), skipped=layout.skipped)]


def write_selects(path: Path, ranges: Sequence[SelectRange], timeline: Timeline) -> list[WrittenFile]:
    """A timeline whose track holds one clip per select, each the select's source range."""
    check_timeline(timeline)
    layout = layout_selects(ranges, timeline)
    with open_text(path) as out:
        _write_head(out, timeline)
        for index, clip in enumerate(layout.clips):
            out.write(("\n," if index else "\n") + _select_clip(clip, timeline, layout.asset_frames))
        _write_tail(out)
    return [WrittenFile(path=path, items=len(layout.clips), skipped=layout.skipped)]


def rational_time(frame: int, rate: float) -> dict[str, Any]:
    """OTIO's time: a float rate (24000/1001 as 23.976023976023978) and the frame as the value."""
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": rate, "value": float(frame)}


def time_range(start: int, frames: int, rate: float) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "duration": rational_time(frames, rate),
        "start_time": rational_time(start, rate),
    }


def _dumps(value: Any) -> str:
    # Compact (100,000 markers indented would be ~140 MB); non-ASCII kept as is, as OTIO writes it.
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _write_head(out: IO[str], timeline: Timeline) -> None:
    """Everything before the first clip; the objects are opened by hand and closed by _write_tail."""
    metadata = {
        METADATA_KEY: {"repoGuid": timeline.repo_guid, "fullPath": timeline.full_path, "dataType": timeline.data_type}
    }
    out.write(
        '{"OTIO_SCHEMA":"Timeline.1"'
        f',"metadata":{_dumps(metadata)}'
        f',"name":{_dumps(timeline_name(timeline))}'
        f',"global_start_time":{_dumps(rational_time(timeline.start_frame, float(timeline.rate)))}'
        ',"tracks":{"OTIO_SCHEMA":"Stack.1","metadata":{},"name":"tracks","source_range":null'
        ',"effects":[],"markers":[],"enabled":true,"color":null,"children":['
        '{"OTIO_SCHEMA":"Track.1","metadata":{},'
        f'"name":{_dumps(TRACK_NAME)}'
        ',"source_range":null,"effects":[],"markers":[],"enabled":true,"color":null,"children":['
    )


def _write_tail(out: IO[str]) -> None:
    out.write('\n],"kind":"Video"}]}}\n')


def _clip_head(name: str, source_start: int, frames: int, metadata: dict[str, Any], rate: float) -> str:
    """A Clip.2 up to the opening of its marker list."""
    return (
        '{"OTIO_SCHEMA":"Clip.2"'
        f',"metadata":{_dumps(metadata)}'
        f',"name":{_dumps(name)}'
        f',"source_range":{_dumps(time_range(source_start, frames, rate))}'
        ',"effects":[],"markers":['
    )


def _clip_tail(timeline: Timeline, asset_frames: int) -> str:
    """The rest of a Clip.2 after its markers: the media reference covering the whole asset."""
    reference = {
        "OTIO_SCHEMA": "ExternalReference.1",
        "metadata": {},
        "name": asset_name(timeline),
        "available_range": time_range(timeline.source_offset, asset_frames, float(timeline.rate)),
        "available_image_bounds": None,
        "target_url": timeline.media_url,
    }
    return (
        '],"enabled":true,"color":null'
        f',"media_references":{{"DEFAULT_MEDIA":{_dumps(reference)}}}'
        ',"active_media_reference_key":"DEFAULT_MEDIA"}'
    )


def _markers(table: SegmentTable, layout: MarkerLayout, timeline: Timeline) -> Iterator[str]:
    """Each placed segment as `_dumps` writes its Marker.2, after "\\n" (the first) or "\\n,".

    Spelled from columns rather than dumped dict by dict (issue 14): `encode_basestring` is how
    `json.dumps` spells a string (ensure_ascii off), and a float's repr how it spells a float.
    """
    segments = layout.placed(table.segments)
    ids = [encode_basestring(segment.id) for segment in segments]
    # A data type has a handful of event types: each is spelled once.
    spelled = {event_type: encode_basestring(event_type) for event_type in {s.event_type for s in segments}}
    event_types = [spelled[segment.event_type] for segment in segments]
    confidences = [_confidence_json(segment.confidence) for segment in segments]
    # Comprehensions, not map(): a C loop over every segment would hold the GIL for tens of ms.
    names = [encode_basestring(name) for name in layout.placed(marker_names(table))]
    notes = [encode_basestring(note) for note in layout.placed(marker_notes(table))]
    offset = timeline.source_offset
    starts = _frame_values([offset + start for start in layout.starts])
    durations = _frame_values([end - start for start, end in zip(layout.starts, layout.ends, strict=True)])
    separators = ["\n,"] * len(segments)
    if separators:
        separators[0] = "\n"
    color = _dumps(MARKER_COLORS.get(timeline.data_type, DEFAULT_MARKER_COLOR))
    rational_time = f'{{"OTIO_SCHEMA":"RationalTime.1","rate":{float(timeline.rate)!r},"value":'
    columns = zip(separators, ids, event_types, confidences, names, notes, durations, starts, strict=True)
    for separator, id_, event_type, confidence, name, note, duration, start in columns:
        yield (
            f'{separator}{{"OTIO_SCHEMA":"Marker.2","metadata":{{"{METADATA_KEY}":{{"id":{id_}'
            f',"sdnaEventType":{event_type},"confidenceScore":{confidence}}}}}'
            f',"name":{name},"color":{color},"marked_range":{{"OTIO_SCHEMA":"TimeRange.1"'
            f',"duration":{rational_time}{duration}}},"start_time":{rational_time}{start}}}}},"comment":{note}}}'
        )


def _frame_values(frames: list[int]) -> list[str]:
    """Each frame count as the JSON of `float(frame)`, what `rational_time` holds."""
    # Below 2**53 a whole number is an exact float, whose repr is its digits and ".0".
    if min(frames, default=0) > -EXACT_FLOAT_LIMIT and max(frames, default=0) < EXACT_FLOAT_LIMIT:
        return [f"{frame}.0" for frame in frames]
    return [repr(float(frame)) for frame in frames]


def _select_clip(clip: PlacedSelect, timeline: Timeline, asset_frames: int) -> str:
    metadata = {METADATA_KEY: {"sourceIds": list(clip.select.source_ids)}}
    start = timeline.source_offset + clip.source_start
    head = _clip_head(clip_name(clip.select), start, clip.frames, metadata, float(timeline.rate))
    return head + _clip_tail(timeline, asset_frames)


def _confidence_json(value: float | None) -> str:
    """`_dumps(_finite_or_none(value))`, with None and a finite float spelled directly."""
    if value is None:
        return "null"
    if type(value) is float and math.isfinite(value):
        return repr(value)
    return _dumps(_finite_or_none(value))


def _finite_or_none(value: float | None) -> float | None:
    # JSON has no NaN/Infinity; OTIO would refuse to read them back.
    return value if value is not None and math.isfinite(value) else None
