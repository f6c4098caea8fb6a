"""Avid Media Composer marker list (`.txt`): what the Markers window's "Import Markers" reads.

One line per segment, six tab-separated fields, as Media Composer itself exports them:

    AI Spark<TAB>01:00:07:21<TAB>V1<TAB>blue<TAB>comment text<TAB>48

user, timecode (the segment's start frame on the media's own start timecode when the media was
probed, else on the timeline's record start; `;` before the frames in drop frame),
track, colour, comment, duration in frames (end frame - start frame, at least 1).

Choices:
- User is `AI Spark`, so an editor can tell (and filter) imported markers from their own.
- Track `V1`: every sequence has it; a marker on a track that does not exist is not imported.
- Colour per data type, from Avid's classic eight (lower case, as Avid writes them): transcript blue,
  events green, comments yellow, markers red, selects cyan; any other type magenta.
- Comment: one line (tabs, line breaks and control characters would break the row), cut to
  240 characters with an ellipsis: long enough for a sentence of transcript, short enough for the
  Markers window (Avid's own limit is not documented; unverified).
- UTF-8, LF line ends, no header line, segments ordered by start. Empty comments are kept: the marker
  still marks the moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from features.create_export.text import single_line, truncate
from features.create_export.timecode import frame_to_timecode, seconds_to_frame
from features.create_export.timeline import Segment, Timeline, WrittenFile

USER = "AI Spark"
TRACK = "V1"
COMMENT_LIMIT = 240
COLOURS = {"transcript": "blue", "events": "green", "comments": "yellow", "markers": "red", "selects": "cyan"}
OTHER_COLOUR = "magenta"


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one marker line per segment and return the file written."""
    colour = COLOURS.get(timeline.data_type, OTHER_COLOUR)
    ordered = sorted(segments, key=lambda segment: (segment.start, segment.id))
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        for segment in ordered:
            stream.write(_line(segment, timeline, colour))
    return [WrittenFile(path=path, items=len(ordered))]


def _line(segment: Segment, timeline: Timeline, colour: str) -> str:
    start_frame = seconds_to_frame(segment.start, timeline.rate)
    end_frame = seconds_to_frame(segment.end, timeline.rate)
    timecode = frame_to_timecode(_list_start(timeline) + start_frame, timeline.rate, timeline.drop_frame)
    comment = truncate(single_line(segment.value), COMMENT_LIMIT)
    duration = max(1, end_frame - start_frame)
    return f"{USER}\t{timecode}\t{TRACK}\t{colour}\t{comment}\t{duration}\n"


def _list_start(timeline: Timeline) -> int:
    """With probed media the list is on the media's own timecode (markers on the source clip, where
    Media Composer relinks); without media on the timeline's record start, as before."""
    return timeline.start_frame if timeline.source_start_frame is None else timeline.source_start_frame
