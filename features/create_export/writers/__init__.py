"""Writers of the export slice, one module per format, and the registry the processor uses.

Every writer is synchronous (the processor runs it in a thread), streams its output, and returns one
`WrittenFile` per file it wrote (EDLs split into parts past 999 events).
"""

from __future__ import annotations

from dataclasses import dataclass

from features.create_export.timeline import SegmentWriter, SelectsWriter
from features.create_export.writers import avid, csv, edl, fcpxml, json, otio, srt, vtt, xlsx, xmeml


@dataclass(frozen=True)
class SegmentFormat:
    extension: str
    write: SegmentWriter


@dataclass(frozen=True)
class SelectsFormat:
    extension: str
    write: SelectsWriter


SEGMENT_WRITERS: dict[str, SegmentFormat] = {
    "json": SegmentFormat("json", json.write_segments),
    "csv": SegmentFormat("csv", csv.write_segments),
    "xlsx": SegmentFormat("xlsx", xlsx.write_segments),
    "srt": SegmentFormat("srt", srt.write_segments),
    "vtt": SegmentFormat("vtt", vtt.write_segments),
    "edl": SegmentFormat("edl", edl.write_segments),
    "fcpxml": SegmentFormat("fcpxml", fcpxml.write_segments),
    "xmeml": SegmentFormat("xml", xmeml.write_segments),
    "otio": SegmentFormat("otio", otio.write_segments),
    "avid": SegmentFormat("txt", avid.write_segments),
}

SELECTS_WRITERS: dict[str, SelectsFormat] = {
    "edl": SelectsFormat("edl", edl.write_selects),
    "fcpxml": SelectsFormat("fcpxml", fcpxml.write_selects),
    "xmeml": SelectsFormat("xml", xmeml.write_selects),
    "otio": SelectsFormat("otio", otio.write_selects),
}
