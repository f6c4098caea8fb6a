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

Issue 14 (CPU): timecodes, comments and durations are columns of the data type's `SegmentTable`
(computed once, shared with the other writers), and lines are written a few thousand at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from features.create_export.segment_table import SegmentTable
from features.create_export.text import is_single_line, single_line, truncate
from features.create_export.timeline import Segment, Timeline, WrittenFile, open_output

USER = "AI Spark"
TRACK = "V1"
COMMENT_LIMIT = 240
COLOURS = {"transcript": "blue", "events": "green", "comments": "yellow", "markers": "red", "selects": "cyan"}
OTHER_COLOUR = "magenta"
# Lines joined per write: one write per line cost more than the lines; one join of all of them would
# hold the GIL past what the service's /status allows.
LINES_PER_WRITE = 4096
# SegmentTable column keys (the table is shared by every writer of a data type).
COMMENTS = "avid_comments"
DURATIONS = "avid_durations"


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one marker line per segment and return the file written."""
    table = SegmentTable.of(segments)
    timecodes = table.start_timecodes(timeline.rate, timeline.drop_frame, _list_start(timeline))
    comments = table.column(COMMENTS, _comments)
    durations = table.column((DURATIONS, timeline.rate), lambda _: _durations(table, timeline.rate))
    between = f"\t{TRACK}\t{COLOURS.get(timeline.data_type, OTHER_COLOUR)}\t"
    with open_output(path, encoding="utf-8", newline="\n") as stream:
        for first in range(0, len(table), LINES_PER_WRITE):
            chunk = slice(first, first + LINES_PER_WRITE)
            lines = zip(timecodes[chunk], comments[chunk], durations[chunk], strict=True)
            stream.write(
                "".join(
                    [f"{USER}\t{timecode}{between}{comment}\t{duration}\n" for timecode, comment, duration in lines]
                )
            )
    return [WrittenFile(path=path, items=len(table))]


def _comments(segments: list[Segment]) -> list[str]:
    return [_comment(segment.value) for segment in segments]


def _comment(text: str) -> str:
    """One line (tabs and line breaks would break the row), cut to COMMENT_LIMIT."""
    if not is_single_line(text):  # nearly always it is: single_line's regexes are skipped
        text = single_line(text)
    return truncate(text, COMMENT_LIMIT)


def _durations(table: SegmentTable, rate: Fraction) -> list[int]:
    """End frame - start frame, at least 1."""
    return [
        end - start if end > start else 1
        for start, end in zip(table.start_frames(rate), table.end_frames(rate), strict=True)
    ]


def _list_start(timeline: Timeline) -> int:
    """With probed media the list is on the media's own timecode (markers on the source clip, where
    Media Composer relinks); without media on the timeline's record start, as before."""
    return timeline.start_frame if timeline.source_start_frame is None else timeline.source_start_frame
