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

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import rational_label
from features.create_export.timeline import WRITE_BUFFER, Segment, Timeline, WrittenFile

CHUNK = 2000


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write the segments as one JSON document and return the file written."""
    table = SegmentTable.of(segments)
    items = _items(table, timeline)
    with path.open("wb", buffering=WRITE_BUFFER) as stream:
        stream.write(_header(timeline))
        # Written a chunk at a time: one write per segment cost more than encoding it, and one join
        # of all of them would hold the GIL for the event loop's whole answer budget.
        for first in range(0, len(table), CHUNK):
            chunk = b",\n".join(orjson.dumps(item, default=str) for item in islice(items, CHUNK))
            stream.write((b"\n" if first == 0 else b",\n") + chunk)
        stream.write(b"\n]}\n" if len(table) else b"]}\n")
    return [WrittenFile(path=path, items=len(table))]


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


def _items(table: SegmentTable, timeline: Timeline) -> Iterator[dict[str, Any]]:
    """Each segment as its JSON object; frames and timecodes come from the table's shared columns."""
    rate, drop_frame = timeline.rate, timeline.drop_frame
    columns = zip(
        table.segments,
        table.start_frames(rate),
        table.end_frames(rate),
        table.start_timecodes(rate, drop_frame, timeline.start_frame),
        table.end_timecodes(rate, drop_frame, timeline.start_frame),
        strict=True,
    )
    return (_item(segment, *frames_and_timecodes) for segment, *frames_and_timecodes in columns)


def _item(segment: Segment, start_frame: int, end_frame: int, start_timecode: str, end_timecode: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": segment.id,
        "sdnaEventType": segment.event_type,
        "eventValue": segment.value,
        "start": segment.start,
        "end": segment.end,
        "startFrame": start_frame,
        "endFrame": end_frame,
        "startTimecode": start_timecode,
        "endTimecode": end_timecode,
    }
    # Optional fields only when the catalog had them (in this order).
    if segment.confidence is not None:
        item["confidenceScore"] = segment.confidence
    if segment.source is not None:
        item["source"] = segment.source
    if segment.positions is not None:
        item["positions"] = segment.positions
    return item
