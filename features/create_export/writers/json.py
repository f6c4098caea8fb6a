"""JSON export: one UTF-8 document per data type, segments ordered by start.

Shape (SPEC §5, FORMAT-FACTS §8):

    {"repoGuid": ..., "fullPath": ..., "dataType": ..., "frameRate": "24000/1001", "dropFrame": false,
     "segments": [{"id", "sdnaEventType", "eventValue", "start", "end", "startFrame", "endFrame",
                   "startTimecode", "endTimecode", "confidenceScore"?, "source"?, "positions"?}]}

Times stay in seconds as the catalog gave them; frames and timecodes are added so an editor or an LLM
can point at the same frame the EDL and FCPXML use. Timecodes are record timecodes (the timeline's
start plus the frame). Optional fields appear only when the catalog had them. One segment is written
per line, so the file streams (100k segments never sit in memory as one string) and stays diffable.
Non-ASCII text is kept as is. orjson never writes NaN or Infinity (it would write null), so the file is
always RFC 8259 JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from features.create_export.timecode import frame_to_timecode, rational_label, seconds_to_frame
from features.create_export.timeline import Segment, Timeline, WrittenFile


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write the segments as one JSON document and return the file written."""
    ordered = sorted(segments, key=lambda segment: (segment.start, segment.id))
    with path.open("wb") as stream:
        stream.write(_header(timeline))
        for index, segment in enumerate(ordered):
            stream.write(b"\n" if index == 0 else b",\n")
            # default=str: `positions` comes from the catalog as is and may hold ObjectIds or dates.
            stream.write(orjson.dumps(_segment(segment, timeline), default=str))
        stream.write(b"\n]}\n" if ordered else b"]}\n")
    return [WrittenFile(path=path, items=len(ordered))]


def _header(timeline: Timeline) -> bytes:
    """The document up to the opening bracket of `segments`, written with the same encoder."""
    head = orjson.dumps(
        {
            "repoGuid": timeline.repo_guid,
            "fullPath": timeline.full_path,
            "dataType": timeline.data_type,
            "frameRate": rational_label(timeline.rate),
            "dropFrame": timeline.drop_frame,
        }
    )
    return head[:-1] + b',"segments":['


def _segment(segment: Segment, timeline: Timeline) -> dict[str, Any]:
    start_frame = seconds_to_frame(segment.start, timeline.rate)
    end_frame = seconds_to_frame(segment.end, timeline.rate)
    item: dict[str, Any] = {
        "id": segment.id,
        "sdnaEventType": segment.event_type,
        "eventValue": segment.value,
        "start": segment.start,
        "end": segment.end,
        "startFrame": start_frame,
        "endFrame": end_frame,
        "startTimecode": _record_timecode(start_frame, timeline),
        "endTimecode": _record_timecode(end_frame, timeline),
    }
    optional = {"confidenceScore": segment.confidence, "source": segment.source, "positions": segment.positions}
    item.update((key, value) for key, value in optional.items() if value is not None)
    return item


def _record_timecode(frame: int, timeline: Timeline) -> str:
    return frame_to_timecode(timeline.start_frame + frame, timeline.rate, timeline.drop_frame)
