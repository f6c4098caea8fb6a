"""OpenTimelineIO export (`.otio`, the otio_json serialisation), readable by `otio` and the NLEs it feeds.

Layout, exactly as opentimelineio 0.18 serialises it (Timeline.1 > Stack.1 > Track.1 "Video"):

    segments: one Clip.2 of the whole media (ExternalReference.1 to the media URL) holding one
              Marker.2 per segment, on the clip's source time
    selects:  one Clip.2 per select, source_range = the select, back to back in the track

Choices:
- The JSON is streamed here rather than built with the opentimelineio objects: building 100,000
  markers with the library took about 25 s (mostly converting each marker's metadata dict); writing
  them directly takes a few seconds and a bounded amount of memory. The tests read every file back
  with opentimelineio and require its own re-serialisation to be identical to what was written.
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
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile
from features.create_export.writers.layout import (
    PlacedMarker,
    PlacedSelect,
    asset_name,
    check_timeline,
    clip_name,
    layout_markers,
    layout_selects,
    marker_name,
    marker_note,
    open_text,
    timeline_name,
)

METADATA_KEY = "ai_spark"
MARKER_COLORS = {"transcript": "BLUE", "events": "GREEN", "comments": "YELLOW", "markers": "RED"}
DEFAULT_MARKER_COLOR = "RED"
TRACK_NAME = "V1"


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """A timeline whose one clip is the whole media, with a marker per segment."""
    check_timeline(timeline)
    layout = layout_markers(segments, timeline)
    rate = float(timeline.rate)
    color = MARKER_COLORS.get(timeline.data_type, DEFAULT_MARKER_COLOR)
    with open_text(path) as out:
        _write_head(out, timeline)
        out.write(_clip_head(asset_name(timeline), timeline.source_offset, layout.clip_frames, {}, rate))
        for index, marker in enumerate(layout.markers):
            out.write(("\n," if index else "\n") + _dumps(_marker(marker, color, rate, timeline.source_offset)))
        out.write("\n" + _clip_tail(timeline, layout.clip_frames))
        _write_tail(out)
    return [WrittenFile(path=path, items=len(layout.markers), skipped=layout.skipped)]


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


def _marker(marker: PlacedMarker, color: str, rate: float, offset: int) -> dict[str, Any]:
    segment = marker.segment
    name = marker_name(segment)
    return {
        "OTIO_SCHEMA": "Marker.2",
        "metadata": {
            METADATA_KEY: {
                "id": segment.id,
                "sdnaEventType": segment.event_type,
                "confidenceScore": _finite_or_none(segment.confidence),
            }
        },
        "name": name,
        "color": color,
        "marked_range": time_range(offset + marker.start, marker.end - marker.start, rate),
        "comment": marker_note(segment, name),
    }


def _select_clip(clip: PlacedSelect, timeline: Timeline, asset_frames: int) -> str:
    metadata = {METADATA_KEY: {"sourceIds": list(clip.select.source_ids)}}
    start = timeline.source_offset + clip.source_start
    head = _clip_head(clip_name(clip.select), start, clip.frames, metadata, float(timeline.rate))
    return head + _clip_tail(timeline, asset_frames)


def _finite_or_none(value: float | None) -> float | None:
    # JSON has no NaN/Infinity; OTIO would refuse to read them back.
    return value if value is not None and math.isfinite(value) else None
