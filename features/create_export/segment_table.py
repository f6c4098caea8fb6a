"""A data type's segments as every writer of it needs them, each derived column computed once.

Issue 14: the ten formats of one data type all ask for the same things: the segments in start order
(start, then id), their frames at the timeline's rate, their milliseconds, their record timecodes,
their one-line text. Computed again by every writer, that cost more than the writing itself. The
plan hands one `SegmentTable` per data type to every writer of it; a column is computed when a writer
first asks for it and kept for the next one. A writer given a plain sequence (tests, the bench, the
selects) builds a table of its own: what it writes is the same.

Writers run one at a time, each in a worker thread; two threads asking for one missing column at once
would both compute it and keep one of the two equal results, so no lock is needed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterator, Sequence
from fractions import Fraction
from itertools import pairwise
from operator import attrgetter
from typing import Any, TypeVar, overload

from features.create_export.timecode import frames_at, milliseconds_at, timecodes_at
from features.create_export.timeline import Segment

T = TypeVar("T")


# The order every segment format writes in: start, then id (a stable, reproducible tie-break).
# An attrgetter, not a lambda: the key of 100,000 segments is made in C.
writing_order: Callable[[Segment], tuple[float, str]] = attrgetter("start", "id")


# Segments sorted per call of `sorted`: one sort of 100,000 holds the GIL 80-180 ms (keys and
# comparisons all in C), a /status poll's whole budget; 5,000 take a few milliseconds.
SORT_STEP = 5_000


def sorted_in_steps(segments: list[Segment]) -> list[Segment]:
    """`sorted(segments, key=writing_order)`, a step at a time so other threads get the GIL between.

    The catalog's events arrive in start order, so the sorted steps nearly always follow each other
    and are simply joined; otherwise they are merged (in Python: slower, but never holding the GIL).
    """
    steps = [
        sorted(segments[first : first + SORT_STEP], key=writing_order) for first in range(0, len(segments), SORT_STEP)
    ]
    if all(writing_order(earlier[-1]) <= writing_order(later[0]) for earlier, later in pairwise(steps)):
        return [segment for step in steps for segment in step]
    return list(heapq.merge(*steps, key=writing_order))


class SegmentTable(Sequence[Segment]):
    """Segments in writing order, with columns derived from them (one list item per segment)."""

    __slots__ = ("_columns", "segments")

    def __init__(self, segments: Sequence[Segment], in_writing_order: bool = False) -> None:
        """`in_writing_order`: the caller vouches that the segments are sorted by `writing_order`
        (the plan's, from `read_catalog`: sorting them again cost ~0.15 s before the first file)."""
        self.segments: list[Segment] = list(segments) if in_writing_order else sorted_in_steps(list(segments))
        self._columns: dict[Hashable, Any] = {}

    @classmethod
    def of(cls, segments: Sequence[Segment]) -> SegmentTable:
        """The table itself when given one, else a table of the segments."""
        return segments if isinstance(segments, SegmentTable) else cls(segments)

    def __len__(self) -> int:
        return len(self.segments)

    @overload
    def __getitem__(self, index: int) -> Segment: ...
    @overload
    def __getitem__(self, index: slice) -> list[Segment]: ...
    def __getitem__(self, index: int | slice) -> Segment | list[Segment]:
        return self.segments[index]

    def __iter__(self) -> Iterator[Segment]:
        return iter(self.segments)

    def column(self, key: Hashable, compute: Callable[[list[Segment]], T]) -> T:
        """`compute(segments)`, computed the first time `key` is asked for and kept."""
        try:
            return self._columns[key]
        except KeyError:
            value = self._columns[key] = compute(self.segments)
            return value

    def clear(self) -> None:
        """Let every column and segment go, a piece at a time (blocking: run it in a thread). Freed in
        one go, 100,000 events and their columns held the GIL ~100 ms at the end of an export."""
        while self._columns:
            self._columns.popitem()
        while self.segments:
            del self.segments[-SORT_STEP:]

    def ids(self) -> list[str]:
        return self.column("ids", lambda segments: [segment.id for segment in segments])

    def starts(self) -> list[float]:
        return self.column("starts", lambda segments: [segment.start for segment in segments])

    def ends(self) -> list[float]:
        return self.column("ends", lambda segments: [segment.end for segment in segments])

    def values(self) -> list[str]:
        """Each segment's text as the catalog holds it (the EDL, XML and OTIO names start from it)."""
        return self.column("values", lambda segments: [segment.value for segment in segments])

    def start_frames(self, rate: Fraction) -> list[int]:
        """The nearest frame to each start, halves up (`timecode.seconds_to_frame`)."""
        return self.column(("start_frames", rate), lambda _: frames_at(self.starts(), rate))

    def end_frames(self, rate: Fraction) -> list[int]:
        return self.column(("end_frames", rate), lambda _: frames_at(self.ends(), rate))

    def start_milliseconds(self) -> list[int]:
        return self.column("start_ms", lambda _: milliseconds_at(self.starts()))

    def end_milliseconds(self) -> list[int]:
        return self.column("end_ms", lambda _: milliseconds_at(self.ends()))

    def start_timecodes(self, rate: Fraction, drop_frame: bool, offset: int) -> list[str]:
        """`HH:MM:SS:FF` of `offset` + each start frame (`offset`: the record or source start)."""
        key = ("start_timecodes", rate, drop_frame, offset)
        return self.column(key, lambda _: timecodes_at(self.start_frames(rate), rate, drop_frame, offset))

    def end_timecodes(self, rate: Fraction, drop_frame: bool, offset: int) -> list[str]:
        key = ("end_timecodes", rate, drop_frame, offset)
        return self.column(key, lambda _: timecodes_at(self.end_frames(rate), rate, drop_frame, offset))
