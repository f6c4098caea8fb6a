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
from pathlib import Path
from typing import Any

import orjson

from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import rational_label
from features.create_export.timeline import Segment, Timeline, WrittenFile, open_output

try:  # the C speedup (setup.py builds it where it can); without it, the Python path writes the same
    from features.create_export.writers import _rows_native
except ImportError:
    _rows_native = None

CHUNK = 2000


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write the segments as one JSON document and return the file written."""
    table = SegmentTable.of(segments)
    with open_output(path) as stream:
        stream.write(_header(timeline))
        # Written a chunk at a time: one write per segment cost more than encoding it, and one join
        # of all of them would hold the GIL for the event loop's whole answer budget.
        for first, chunk in enumerate(_chunks(table, timeline)):
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


Columns = tuple[list[int], list[int], list[str], list[str]]


def _columns(table: SegmentTable, timeline: Timeline) -> Columns:
    """Each segment's frames and record timecodes, from the table's shared columns."""
    rate, drop_frame, offset = timeline.rate, timeline.drop_frame, timeline.start_frame
    return (
        table.start_frames(rate),
        table.end_frames(rate),
        table.start_timecodes(rate, drop_frame, offset),
        table.end_timecodes(rate, drop_frame, offset),
    )


def _chunks(table: SegmentTable, timeline: Timeline) -> Iterator[bytes]:
    """The items, `CHUNK` at a time, each chunk's items joined by `,\\n`."""
    columns = _columns(table, timeline)
    render = _python_chunk if _rows_native is None else _native_chunk
    for first in range(0, len(table), CHUNK):
        yield render(table.segments, columns, first, min(first + CHUNK, len(table)))


def _python_chunk(segments: list[Segment], columns: Columns, first: int, stop: int) -> bytes:
    rows = zip(segments[first:stop], *(column[first:stop] for column in columns), strict=True)
    return b",\n".join(orjson.dumps(_item(*row), default=str) for row in rows)


def _native_chunk(segments: list[Segment], columns: Columns, first: int, stop: int) -> bytes:
    def item_bytes(index: int) -> bytes:
        # The items C leaves to orjson: positions, exponent floats, big ints, unusual types.
        return orjson.dumps(_item(segments[index], *(column[index] for column in columns)), default=str)

    chunk = _rows_native.json_items(segments, *columns, first, stop - first, item_bytes)
    # None: a string orjson refuses (a lone surrogate); the Python path raises its error.
    return _python_chunk(segments, columns, first, stop) if chunk is None else chunk


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
