"""Final Cut Pro 7 XML (xmeml version 4) export, the XML that Adobe Premiere Pro imports.

Layout (FORMAT-FACTS §5; Premiere's own exports in samples/xmeml):

    xmeml version="4" > sequence (name, duration, rate, timecode, media > video > track)
      segments: one clipitem of the whole media; one sequence <marker> per segment
      selects:  one clipitem per select, back to back; the <file> is defined in full once and
                referred to by id (`<file id="file-1"/>`) after that

Choices:
- `<rate>` is the timecode base with `<ntsc>TRUE</ntsc>` for the 1000/1001 rates (24 + TRUE is
  23.976); `ntsc FALSE` there would make every position drift 0.1%.
- All positions are frame counts at that rate; the sequence starts at record frame 0 and its
  `<timecode>` (frame = timeline.start_frame, DF strings with `;` as Premiere writes them) sets the
  displayed start.
- Markers are sequence markers (children of `<sequence>`, after `<timecode>` as in Premiere's
  exports), so they show on the timeline ruler. `in` is the start frame; `out` the end frame, or -1
  (Premiere's point marker) for a segment shorter than a frame. xmeml markers have no colour.
- `<name>` is the one-line name, `<comment>` the full text with line breaks when it differs.
  Markers are written from the columns of the shared layout (writers/layout.py), a chunk at a time.
- The file is named by `pathurl` = the media URL; its `<timecode>` is the media's own start
  timecode (00:00:00:00 without probed media). Clip `in`/`out` count from the file's first frame.
- Where markers or selects reach past known media, see writers/layout.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import frame_to_timecode, is_ntsc, timecode_base
from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile
from features.create_export.writers.layout import (
    MarkerLayout,
    asset_name,
    check_timeline,
    clip_name,
    layout_markers,
    layout_selects,
    open_text,
    timeline_name,
    write_in_chunks,
    xml_attribute,
    xml_marker_names,
    xml_marker_notes,
    xml_text,
)

VERSION = "4"
FILE_ID = "file-1"
POINT_MARKER = -1


@dataclass(frozen=True, slots=True)
class _ClipSpan:
    """One clipitem: source frames [source_start, +frames) placed at record_start."""

    index: int
    name: str
    source_start: int
    record_start: int
    frames: int


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """A sequence holding the whole media as one clip, with a sequence marker per segment."""
    check_timeline(timeline)
    table = SegmentTable.of(segments)
    layout = layout_markers(table, timeline)
    whole = _ClipSpan(index=1, name=asset_name(timeline), source_start=0, record_start=0, frames=layout.clip_frames)
    with open_text(path) as out:
        _write_head(out, timeline, layout.clip_frames)
        out.write(_clipitem(timeline, whole, layout.clip_frames, full_file=True))
        _write_media_tail(out, timeline)
        write_in_chunks(out, _markers(table, layout))
        out.write("  </sequence>\n</xmeml>\n")
    return [WrittenFile(path=path, items=len(layout.rows), skipped=layout.skipped)]


def _markers(table: SegmentTable, layout: MarkerLayout) -> Iterator[str]:
    """One sequence `<marker>` per placed segment; shorter than a frame, a point marker."""
    names = layout.placed(xml_marker_names(table))
    notes = layout.placed(xml_marker_notes(table))
    for name, note, start, end in zip(names, notes, layout.starts, layout.ends, strict=True):
        yield (
            "    <marker>\n"
            f"      <comment>{note}</comment>\n"
            f"      <name>{name}</name>\n"
            f"      <in>{start}</in>\n"
            f"      <out>{end if end > start else POINT_MARKER}</out>\n"
            "    </marker>\n"
        )


def write_selects(path: Path, ranges: Sequence[SelectRange], timeline: Timeline) -> list[WrittenFile]:
    """A sequence of clipitems, one per select, each the select's source range, back to back."""
    check_timeline(timeline)
    layout = layout_selects(ranges, timeline)
    with open_text(path) as out:
        _write_head(out, timeline, layout.record_frames)
        for index, placed in enumerate(layout.clips, start=1):
            clip = _ClipSpan(index, clip_name(placed.select), placed.source_start, placed.record_start, placed.frames)
            out.write(_clipitem(timeline, clip, layout.asset_frames, full_file=index == 1))
        _write_media_tail(out, timeline)
        out.write("  </sequence>\n</xmeml>\n")
    return [WrittenFile(path=path, items=len(layout.clips), skipped=layout.skipped)]


def rate_element(timeline: Timeline, indent: str) -> str:
    """`<rate>` as xmeml spells a rate: the timecode base, and whether it is 1000/1001 slower."""
    ntsc = "TRUE" if is_ntsc(timeline.rate) else "FALSE"
    return (
        f"{indent}<rate>\n"
        f"{indent}  <timebase>{timecode_base(timeline.rate)}</timebase>\n"
        f"{indent}  <ntsc>{ntsc}</ntsc>\n"
        f"{indent}</rate>\n"
    )


def _timecode_element(timeline: Timeline, frame: int, indent: str) -> str:
    label = frame_to_timecode(frame, timeline.rate, timeline.drop_frame)
    if timeline.drop_frame:
        # Premiere writes drop-frame strings with semicolons throughout (00;00;00;00).
        label = label.replace(":", ";")
    return (
        f"{indent}<timecode>\n"
        f"{rate_element(timeline, indent + '  ')}"
        f"{indent}  <string>{label}</string>\n"
        f"{indent}  <frame>{frame}</frame>\n"
        f"{indent}  <displayformat>{'DF' if timeline.drop_frame else 'NDF'}</displayformat>\n"
        f"{indent}</timecode>\n"
    )


def _write_head(out: IO[str], timeline: Timeline, sequence_frames: int) -> None:
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE xmeml>\n"
        f"<xmeml version={xml_attribute(VERSION)}>\n"
        '  <sequence id="sequence-1">\n'
        f"    <name>{xml_text(timeline_name(timeline))}</name>\n"
        f"    <duration>{sequence_frames}</duration>\n"
        f"{rate_element(timeline, '    ')}"
        "    <media>\n"
        "      <video>\n"
        "        <format>\n"
        f"{_sample_characteristics(timeline, '          ')}"
        "        </format>\n"
        "        <track>\n"
    )


def _write_media_tail(out: IO[str], timeline: Timeline) -> None:
    out.write(
        "          <enabled>TRUE</enabled>\n"
        "          <locked>FALSE</locked>\n"
        "        </track>\n"
        "      </video>\n"
        "    </media>\n"
        f"{_timecode_element(timeline, timeline.start_frame, '    ')}"
    )


def _clipitem(timeline: Timeline, clip: _ClipSpan, asset_frames: int, full_file: bool) -> str:
    indent = "          "
    file_element = _file_element(timeline, asset_frames, indent + "  ") if full_file else _file_reference(indent + "  ")
    return (
        f'{indent}<clipitem id="clipitem-{clip.index}">\n'
        f"{indent}  <name>{xml_text(clip.name)}</name>\n"
        f"{indent}  <enabled>TRUE</enabled>\n"
        f"{indent}  <duration>{asset_frames}</duration>\n"
        f"{rate_element(timeline, indent + '  ')}"
        f"{indent}  <start>{clip.record_start}</start>\n"
        f"{indent}  <end>{clip.record_start + clip.frames}</end>\n"
        f"{indent}  <in>{clip.source_start}</in>\n"
        f"{indent}  <out>{clip.source_start + clip.frames}</out>\n"
        f"{file_element}"
        f"{indent}</clipitem>\n"
    )


def _file_reference(indent: str) -> str:
    return f'{indent}<file id="{FILE_ID}"/>\n'


def _file_element(timeline: Timeline, asset_frames: int, indent: str) -> str:
    """The media file in full; later clipitems refer to it by id (xmeml inheritance)."""
    return (
        f'{indent}<file id="{FILE_ID}">\n'
        f"{indent}  <name>{xml_text(asset_name(timeline))}</name>\n"
        f"{indent}  <pathurl>{xml_text(timeline.media_url)}</pathurl>\n"
        f"{rate_element(timeline, indent + '  ')}"
        f"{indent}  <duration>{asset_frames}</duration>\n"
        f"{_timecode_element(timeline, timeline.source_offset, indent + '  ')}"
        f"{indent}  <media>\n"
        f"{indent}    <video>\n"
        f"{_sample_characteristics(timeline, indent + '      ')}"
        f"{indent}    </video>\n"
        f"{indent}  </media>\n"
        f"{indent}</file>\n"
    )


def _sample_characteristics(timeline: Timeline, indent: str) -> str:
    return (
        f"{indent}<samplecharacteristics>\n"
        f"{rate_element(timeline, indent + '  ')}"
        f"{indent}  <width>{timeline.width}</width>\n"
        f"{indent}  <height>{timeline.height}</height>\n"
        f"{indent}  <pixelaspectratio>square</pixelaspectratio>\n"
        f"{indent}  <fielddominance>none</fielddominance>\n"
        f"{indent}</samplecharacteristics>\n"
    )
