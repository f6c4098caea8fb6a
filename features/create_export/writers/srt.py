"""SubRip (SRT) export: numbered cues `HH:MM:SS,mmm --> HH:MM:SS,mmm`, UTF-8, LF line ends.

There is no formal spec; this is the form every player accepts (FORMAT-FACTS §6):

    1
    00:00:04,560 --> 00:00:06,000
    text line

Choices:
- Times are rounded half-up to the millisecond from the exact decimal seconds, never truncated.
- A cue whose rounded end is not after its start (a zero-length segment, or two times within half a
  millisecond) is extended to last one frame of the timeline rate, rounded half-up to whole
  milliseconds and at least 1 ms, so players show it instead of dropping it.
- No two cues overlap (issue 14): events and comments overlap in time, and overlapping SRT cues are
  shown badly or dropped by many players and caption importers. A data type's segments are laid out
  as consecutive cues whose boundaries are the segments' (rounded, extended) starts and ends; each cue
  shows every segment active in it, one line per segment, in start order (start, then id). A stretch
  where no segment is active has no cue. Segments that never overlap (a transcript) keep one cue each.
- Text: one line per segment: its line breaks (CR/LF, Unicode separators) become spaces and empty lines
  are dropped (a blank line would end the cue), `-->` becomes `->` (it would read as a timing line),
  tabs become spaces and other control characters are removed. A segment with no text left is skipped
  and counted in `skipped`.
- Text is shown as written: SRT readers take `<...>` for HTML-like tags (ffmpeg drops a cue reading
  `<HANDLE WITH CARE>`, renders `<b>x</b>` bold, and even reads `a < b and c > d` as a `<b>` tag),
  `{\\...}` for an ASS override and `\\N`, `\\n`, `\\h` for ASS breaks and spaces. A zero-width space
  (U+200B) goes after every `<`, between `{` and `\\`, and between `\\` and `N`/`n`/`h`: the characters a
  viewer sees stay exactly the segment's, and no reader finds a tag or an escape. (A look-alike such as
  `‹` would change what is shown and searched; escaping as in WebVTT has no SRT form.)
- Cues are in time order and numbered 1..n; `items` counts cues (not segments); the file ends with the
  blank line that closes the last cue. No BOM: most players accept one, not all.

`cue_lines`, `cue_milliseconds` and `one_frame_milliseconds` are shared with the WebVTT writer, which
follows the same rules.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

from features.create_export.timecode import clock, round_half_up, seconds_to_milliseconds
from features.create_export.timeline import Segment, Timeline, WrittenFile

_LINE_BREAK = re.compile("\r\n|[\r\n\u2028\u2029\x85]")
_SPACE_LIKE = re.compile("[\t\v\f]")
# C0 and C1 controls and DEL: invisible at best, and some players stop reading at them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
ZERO_WIDTH_SPACE = "\u200b"
# Where an SRT reader would start a tag, an ASS override block or an ASS escape.
_MARKUP_START = re.compile(r"(<)|(\{)(?=\\)|(\\)(?=[Nnh])")


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write the segments as consecutive, non-overlapping cues and return the file written."""
    frame_ms = one_frame_milliseconds(timeline.rate)
    spans: list[tuple[int, int, bytes]] = []
    skipped = 0
    for segment in sorted(segments, key=lambda segment: (segment.start, segment.id)):
        lines = cue_lines(segment.value)
        if not lines:
            skipped += 1
            continue
        start_ms, end_ms = cue_milliseconds(segment, frame_ms)
        # Encoded once: a segment of a busy stretch shows in dozens of cues.
        spans.append((start_ms, end_ms, shown_as_written(" ".join(lines)).encode("utf-8")))
    written = 0
    with path.open("wb") as stream:
        for start_ms, end_ms, lines_shown in layout_cues(spans):
            written += 1
            timing = f"{written}\n{clock(start_ms, ',')} --> {clock(end_ms, ',')}\n".encode("ascii")
            stream.write(timing + lines_shown + b"\n\n")
    return [WrittenFile(path=path, items=written, skipped=skipped)]


def layout_cues(spans: Sequence[tuple[int, int, bytes]]) -> Iterator[tuple[int, int, bytes]]:
    """(start ms, end ms, text) spans in start order → consecutive cues `(start, end, lines)`.

    A sweep over the spans' starts and ends: between two neighbouring boundaries the cue shows the
    spans active there, in start order (a dict keeps insertion order, and spans enter in start order).
    """
    active: dict[int, bytes] = {}
    ends: list[tuple[int, int]] = []
    count = len(spans)
    index = 0
    moment = 0
    while index < count or ends:
        upcoming = spans[index][0] if index < count else None
        if ends and (upcoming is None or ends[0][0] <= upcoming):
            upcoming = ends[0][0]
        assert upcoming is not None
        if active and upcoming > moment:
            yield moment, upcoming, b"\n".join(active.values())
        moment = upcoming
        while ends and ends[0][0] == moment:
            del active[heapq.heappop(ends)[1]]
        while index < count and spans[index][0] == moment:
            _, end_ms, text = spans[index]
            active[index] = text
            heapq.heappush(ends, (end_ms, index))
            index += 1


def shown_as_written(line: str) -> str:
    """The line with a zero-width space wherever a reader would see markup instead of text."""
    return _MARKUP_START.sub(lambda match: match.group(0) + ZERO_WIDTH_SPACE, line)


def cue_lines(text: str) -> list[str]:
    """The text as non-empty, control-free lines that cannot be taken for a timing line."""
    lines = (_clean_line(line) for line in _LINE_BREAK.split(text))
    return [line for line in lines if line]


def cue_milliseconds(segment: Segment, frame_ms: int) -> tuple[int, int]:
    """Start and end in whole milliseconds; an end not after the start becomes start + one frame."""
    start_ms = seconds_to_milliseconds(segment.start)
    end_ms = seconds_to_milliseconds(segment.end)
    return start_ms, end_ms if end_ms > start_ms else start_ms + frame_ms


def one_frame_milliseconds(rate: Fraction) -> int:
    """One frame at `rate` in milliseconds, rounded half-up, at least 1 (42 at 23.976, 40 at 25)."""
    return max(1, round_half_up(Fraction(1000) / rate))


def _clean_line(line: str) -> str:
    cleaned = _CONTROL.sub("", _SPACE_LIKE.sub(" ", line)).strip()
    # A loop, not one replace: "--->" becomes "-->" after a single pass.
    while "-->" in cleaned:
        cleaned = cleaned.replace("-->", "->")
    return cleaned
