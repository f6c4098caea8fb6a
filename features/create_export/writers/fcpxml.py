"""Final Cut Pro XML (FCPXML 1.10) export, for Final Cut Pro and DaVinci Resolve.

Layout (valid against Apple's FCPXMLv1_10.dtd; FORMAT-FACTS §4):

    fcpxml version="1.10"
      resources: format r1 (frameDuration of the exact rate), asset r2 (media-rep original-media)
      library > event > project > sequence (tcStart, tcFormat DF|NDF) > spine
        segments: one asset-clip of the whole media holding one <marker> per segment
        selects:  one asset-clip per select, back to back from tcStart

Choices:
- Every time is a rational number of seconds on a frame boundary, `frame × den / num s`
  (`1001/24000s` multiples at 23.976), from timecode.fcpxml_time; no decimals.
- The asset's `start` is the media's own start timecode (0s without probed media), so FCP relinks
  it to the real file. The clip sits at `offset = tcStart` with `start` = the asset's start, and a
  marker's `start` (clip-local time) is the asset's start plus its frame from the start of the media;
  FCP shows it at tcStart + its frame.
- Markers last `max(1 frame, end − start)`: FCP writes one-frame markers, never zero-length ones.
  FCPXML markers have no colour (no version's DTD declares one), so the data type is not shown.
- `value` is the one-line name; `note` carries the full text (line breaks as `&#10;`) only when it
  differs. Text is streamed with its escaping, never through a DOM, so 100,000 markers stay cheap:
  the markers are written from the columns of the shared layout (writers/layout.py), a chunk at a time.
- Where markers or selects reach past known media, see writers/layout.py.
- The asset declares video only: whether the media has audio is not known here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import IO

from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import fcpxml_time, fcpxml_times_at
from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile
from features.create_export.writers.layout import (
    MarkerLayout,
    asset_name,
    attributes_from_xml_texts,
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
)

VERSION = "1.10"
EVENT_NAME = "AI Spark"
FORMAT_ID = "r1"
ASSET_ID = "r2"
# FCP's own format names (FFVideoFormat1080p2398 ...), for the rates and sizes it names that way.
_RATE_CODES = {
    Fraction(24000, 1001): "2398",
    Fraction(24): "24",
    Fraction(25): "25",
    Fraction(30000, 1001): "2997",
    Fraction(30): "30",
    Fraction(50): "50",
    Fraction(60000, 1001): "5994",
    Fraction(60): "60",
}
_SIZE_CODES = {(1920, 1080): "1080p", (1280, 720): "720p"}


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """One asset-clip of the media with a marker per segment."""
    check_timeline(timeline)
    table = SegmentTable.of(segments)
    layout = layout_markers(table, timeline)
    rate = timeline.rate
    clip = _attributes(
        ref=ASSET_ID,
        name=asset_name(timeline),
        offset=fcpxml_time(timeline.start_frame, rate),
        start=fcpxml_time(timeline.source_offset, rate),
        duration=fcpxml_time(layout.clip_frames, rate),
        tcFormat=_tc_format(timeline),
    )
    with open_text(path) as out:
        _write_head(out, timeline, asset_frames=layout.clip_frames, sequence_frames=layout.clip_frames)
        out.write(f"            <asset-clip {clip}>\n")
        write_in_chunks(out, _markers(table, layout, timeline))
        out.write("            </asset-clip>\n")
        _write_tail(out)
    return [WrittenFile(path=path, items=len(layout.rows), skipped=layout.skipped)]


def write_selects(path: Path, ranges: Sequence[SelectRange], timeline: Timeline) -> list[WrittenFile]:
    """One asset-clip per select, each the select's source range, laid back to back."""
    check_timeline(timeline)
    layout = layout_selects(ranges, timeline)
    rate = timeline.rate
    with open_text(path) as out:
        _write_head(out, timeline, asset_frames=layout.asset_frames, sequence_frames=layout.record_frames)
        for clip in layout.clips:
            attributes = _attributes(
                ref=ASSET_ID,
                name=clip_name(clip.select),
                offset=fcpxml_time(timeline.start_frame + clip.record_start, rate),
                start=fcpxml_time(timeline.source_offset + clip.source_start, rate),
                duration=fcpxml_time(clip.frames, rate),
                tcFormat=_tc_format(timeline),
            )
            out.write(f"            <asset-clip {attributes}/>\n")
        _write_tail(out)
    return [WrittenFile(path=path, items=len(layout.clips), skipped=layout.skipped)]


def format_name(rate: Fraction, width: int, height: int) -> str | None:
    """FCP's name for a video format, or None where FCP's naming is not known for that rate."""
    rate_code = _RATE_CODES.get(rate)
    if rate_code is None:
        return None
    return f"FFVideoFormat{_SIZE_CODES.get((width, height), f'{width}x{height}p')}{rate_code}"


def _markers(table: SegmentTable, layout: MarkerLayout, timeline: Timeline) -> Iterator[str]:
    """One `<marker>` line per placed segment; the note only where it says more than the name."""
    offset = timeline.source_offset
    starts = fcpxml_times_at([offset + start for start in layout.starts], timeline.rate)
    # FCP writes one-frame markers, never zero-length ones. Few lengths recur: each is spelled once.
    lengths = [max(1, end - start) for start, end in zip(layout.starts, layout.ends, strict=True)]
    distinct = list(set(lengths))
    spelled = dict(zip(distinct, fcpxml_times_at(distinct, timeline.rate), strict=True))
    durations = [spelled[length] for length in lengths]
    names = attributes_from_xml_texts(layout.placed(xml_marker_names(table)))
    notes = attributes_from_xml_texts(layout.placed(xml_marker_notes(table)))
    for start, duration, name, note in zip(starts, durations, names, notes, strict=True):
        note_attribute = f' note="{note}"' if note else ""
        yield f'              <marker start="{start}" duration="{duration}" value="{name}"{note_attribute}/>\n'


def _write_head(out: IO[str], timeline: Timeline, asset_frames: int, sequence_frames: int) -> None:
    rate = timeline.rate
    video_format = _attributes(
        id=FORMAT_ID,
        name=format_name(rate, timeline.width, timeline.height),
        frameDuration=fcpxml_time(1, rate),
        width=str(timeline.width),
        height=str(timeline.height),
    )
    asset = _attributes(
        id=ASSET_ID,
        name=asset_name(timeline),
        start=fcpxml_time(timeline.source_offset, rate),
        duration=fcpxml_time(asset_frames, rate),
        hasVideo="1",
        format=FORMAT_ID,
    )
    sequence = _attributes(
        format=FORMAT_ID,
        duration=fcpxml_time(sequence_frames, rate),
        tcStart=fcpxml_time(timeline.start_frame, rate),
        tcFormat=_tc_format(timeline),
    )
    out.write(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE fcpxml>\n"
        f'<fcpxml version="{VERSION}">\n'
        "  <resources>\n"
        f"    <format {video_format}/>\n"
        f"    <asset {asset}>\n"
        f'      <media-rep kind="original-media" src={xml_attribute(timeline.media_url)}/>\n'
        "    </asset>\n"
        "  </resources>\n"
        "  <library>\n"
        f"    <event name={xml_attribute(EVENT_NAME)}>\n"
        f"      <project name={xml_attribute(timeline_name(timeline))}>\n"
        f"        <sequence {sequence}>\n"
        "          <spine>\n"
    )


def _write_tail(out: IO[str]) -> None:
    out.write("          </spine>\n        </sequence>\n      </project>\n    </event>\n  </library>\n</fcpxml>\n")


def _attributes(**values: str | None) -> str:
    """`name="value"` pairs in the given order; None leaves the attribute out."""
    return " ".join(f"{key}={xml_attribute(value)}" for key, value in values.items() if value is not None)


def _tc_format(timeline: Timeline) -> str:
    return "DF" if timeline.drop_frame else "NDF"
