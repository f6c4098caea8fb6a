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

`cue_texts_of`, `cue_milliseconds`, `clock_labels` and `write_in_chunks` are shared with the WebVTT
writer, which follows the same rules; the first two are columns of the data type's `SegmentTable`, so
whichever of the two writers runs second reuses them.

Issue 14 (the CPU of a 127,000-segment export): the events' SRT is ~300 MB, each cue showing ~70
overlapping segments. Each segment's text is cleaned and encoded once; the layout keeps the shown text of
the active segments and changes it at each boundary instead of joining ~70 pieces per cue; each clock
label is formatted once; cues are joined into writes of about a megabyte. No single call over the whole
file (a join, an encode) holds the GIL for long: the service's event loop keeps answering meanwhile.
Per segment the columns hold strings and integers, not a list of lines: a hundred thousand lists that
outlive the young generation set off the garbage collector's full collections, which walk every object
of the process (0.1 s of the 0.23 s the list of lines cost on 100,000 events; the text now costs 0.02 s).
The layout, the cue format and the chunked writes then run in C (`_srt_native.write_cues`, built by
setup.py), with the GIL released while each chunk is built; `python_write_cues` is the same in Python,
the reference the C is tested against and the path where the extension is not built.
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import clock, round_half_up
from features.create_export.timeline import Segment, Timeline, WrittenFile, open_output

try:
    from features.create_export.writers import _srt_native
except ImportError:  # built without a C compiler: setup.py's extensions are optional
    _srt_native = None

_LINE_BREAK = re.compile("\r\n|[\r\n\u2028\u2029\x85]")
_SPACE_LIKE = re.compile("[\t\v\f]")
# C0 and C1 controls and DEL: invisible at best, and some players stop reading at them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
ZERO_WIDTH_SPACE = "\u200b"
# Where an SRT reader would start a tag, an ASS override block or an ASS escape.
_MARKUP_START = re.compile(r"(<)|(\{)(?=\\)|(\\)(?=[Nnh])")
# Cues are joined into writes of about this many bytes: a few syscalls for a 300 MB file, a join that
# holds the GIL for a millisecond or so, and memory bounded however large a cue is.
BYTES_PER_WRITE = 1 << 20


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write the segments as consecutive, non-overlapping cues and return the file written."""
    table = SegmentTable.of(segments)
    starts, ends = cue_milliseconds(table, one_frame_milliseconds(timeline.rate))
    texts = cue_texts_of(table)
    with_text = [index for index, text in enumerate(texts) if text]
    span_starts = [starts[index] for index in with_text]
    span_ends = [ends[index] for index in with_text]
    span_lines = [_shown_line(texts[index]) for index in with_text]
    with open_output(path) as stream:
        written = write_cues(stream, span_starts, span_ends, span_lines)
    return [WrittenFile(path=path, items=written, skipped=len(table) - len(with_text))]


def write_cues(stream: BinaryIO, starts: Sequence[int], ends: Sequence[int], lines: Sequence[bytes]) -> int:
    """The spans' cues, numbered from 1, written in chunks of about `BYTES_PER_WRITE`; how many there were."""
    if _srt_native is not None:
        return _srt_native.write_cues(stream.write, starts, ends, lines, BYTES_PER_WRITE)
    return python_write_cues(stream, starts, ends, lines)


def python_write_cues(
    stream: BinaryIO,
    starts: Sequence[int],
    ends: Sequence[int],
    lines: Sequence[bytes],
    bytes_per_write: int = BYTES_PER_WRITE,
) -> int:
    """`write_cues` in Python: what `_srt_native.write_cues` must write, byte for byte."""
    labels = clock_labels(chain(starts, ends), ",")
    cues = (
        b"%d\n%b --> %b\n%b\n" % (number, labels[start_ms], labels[end_ms], shown)
        for number, (start_ms, end_ms, shown) in enumerate(layout_cues(starts, ends, lines), 1)
    )
    return write_in_chunks(stream, cues, bytes_per_write)


def layout_cues(starts: Sequence[int], ends: Sequence[int], texts: Sequence[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """Spans (start ms, end ms, text; in start order) → consecutive cues `(start, end, shown)`.

    A sweep over the spans' starts and ends: between two neighbouring boundaries the cue shows the
    texts of the spans active there, in start order. Each text ends with its line's LF; `shown` is their
    concatenation, kept from cue to cue: a span that starts is appended (spans start in index order), one
    that ends is cut out at the offset of the active spans before it.
    """
    shown = b""
    active: list[int] = []  # indices of the spans in `shown`, ascending, so in start order
    lengths: list[int] = []  # the length of each one's text
    ending: list[tuple[int, int]] = []  # (end ms, index) of the active spans, a heap
    count = len(starts)
    index = 0
    moment = 0
    while index < count or ending:
        upcoming = starts[index] if index < count else None
        if ending and (upcoming is None or ending[0][0] <= upcoming):
            upcoming = ending[0][0]
        assert upcoming is not None
        if shown and upcoming > moment:
            yield moment, upcoming, shown
        moment = upcoming
        while ending and ending[0][0] == moment:
            position = bisect_left(active, heapq.heappop(ending)[1])
            offset = sum(lengths[:position])
            shown = shown[:offset] + shown[offset + lengths[position] :]
            del active[position], lengths[position]
        while index < count and starts[index] == moment:
            text = texts[index]
            shown += text
            active.append(index)
            lengths.append(len(text))
            heapq.heappush(ending, (ends[index], index))
            index += 1


def shown_as_written(line: str) -> str:
    """The line with a zero-width space wherever a reader would see markup instead of text."""
    if "\\" in line:
        return _MARKUP_START.sub(lambda match: match.group(0) + ZERO_WIDTH_SPACE, line)
    # Without a backslash there is no ASS override or escape, only tags (most lines have neither).
    return line.replace("<", "<" + ZERO_WIDTH_SPACE)


def cue_texts_of(table: SegmentTable) -> list[str]:
    """`cue_text` of each segment's value, a column of the table (SRT and WebVTT both need it)."""
    return table.column(
        ("cue_text", "lines joined by LF"), lambda segments: [cue_text(segment.value) for segment in segments]
    )


def cue_text(text: str) -> str:
    """The text's non-empty, control-free lines that cannot be taken for a timing line, LF between them.

    `""` when no line is left. No line holds an LF (line breaks are what split them), so a writer can
    join them otherwise with one `replace`.
    """
    if text.isprintable():
        # No line break, tab or control character (all non-printable): one line, only to be trimmed.
        return _without_timing_arrow(text.strip())
    lines = (_clean_line(line) for line in _LINE_BREAK.split(text))
    return "\n".join(line for line in lines if line)


def cue_milliseconds(table: SegmentTable, frame_ms: int) -> tuple[list[int], list[int]]:
    """Starts and ends in whole milliseconds; an end not after its start becomes start + one frame."""
    starts = table.start_milliseconds()
    ends = table.column(
        ("cue", "end_ms", frame_ms),
        lambda _: [
            end_ms if end_ms > start_ms else start_ms + frame_ms
            for start_ms, end_ms in zip(starts, table.end_milliseconds(), strict=True)
        ],
    )
    return starts, ends


def one_frame_milliseconds(rate: Fraction) -> int:
    """One frame at `rate` in milliseconds, rounded half-up, at least 1 (42 at 23.976, 40 at 25)."""
    return max(1, round_half_up(Fraction(1000) / rate))


def clock_labels(milliseconds: Iterable[int], separator: str) -> dict[int, bytes]:
    """`clock(ms, separator)` as ASCII, by millisecond, for each of the milliseconds.

    Two labels per cue, a cue's end mostly the next one's start: formatted per cue, they cost more than
    the cue's text. Each second's `HH:MM:SS` and separator is formatted once.
    """
    seconds = _SecondLabels(separator)
    digits = _MILLISECOND_DIGITS
    return {millis: seconds[millis // 1000] + digits[millis % 1000] for millis in milliseconds}


class _SecondLabels(dict[int, bytes]):
    """`HH:MM:SS` and the separator, by whole second, formatted the first time it is asked for."""

    def __init__(self, separator: str) -> None:
        super().__init__()
        self._separator = separator

    def __missing__(self, second: int) -> bytes:
        # clock() itself, so the form has one definition (and a negative time still raises).
        label = self[second] = clock(second * 1000, self._separator)[:-3].encode("ascii")
        return label


_MILLISECOND_DIGITS = [b"%03d" % millis for millis in range(1000)]


def write_in_chunks(stream: BinaryIO, blocks: Iterable[bytes], bytes_per_write: int = BYTES_PER_WRITE) -> int:
    """Write the blocks, joined into writes of about `bytes_per_write`, and return how many there were."""
    written = 0
    chunk: list[bytes] = []
    size = 0
    for block in blocks:
        chunk.append(block)
        size += len(block)
        if size >= bytes_per_write:
            stream.write(b"".join(chunk))
            written += len(chunk)
            chunk.clear()
            size = 0
    stream.write(b"".join(chunk))
    return written + len(chunk)


def _shown_line(text: str) -> bytes:
    """A segment's cue text as its one SRT line (a space between its lines), encoded, with the LF that ends it."""
    return shown_as_written(text.replace("\n", " ")).encode("utf-8") + b"\n"


def _clean_line(line: str) -> str:
    return _without_timing_arrow(_CONTROL.sub("", _SPACE_LIKE.sub(" ", line)).strip())


def _without_timing_arrow(line: str) -> str:
    # A loop, not one replace: "--->" becomes "-->" after a single pass.
    while "-->" in line:
        line = line.replace("-->", "->")
    return line
