"""What every writer of the export slice receives: clean segments and the timeline they sit on.

The processor repairs catalog documents into `Segment`s before any writer runs (start ≥ 0,
end ≥ start, finite numbers, text as read), so writers only decide how to spell them.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Protocol

from shared.fabric import CatalogEvent

# Every writer opens its file with this buffer (issue 14). With Python's 8 KB default a writer thread
# makes a system call every 8 KB, dropping the GIL and taking it straight back each time; the event
# loop's thread, waiting for its turn, then never sees the GIL change hands idle long enough to ask
# for it, and a `/status` answer waited up to ~110 ms behind a CSV being written. Measured with a
# 1 MB buffer: at most ~5 ms.
WRITE_BUFFER = 1024 * 1024

# Where `open_output` sends a file while a package step runs in this thread (`outputs_through`).
_outputs = threading.local()


def open_output(
    path: Path, encoding: str | None = None, errors: str | None = None, newline: str | None = None
) -> IO[Any]:
    """How every writer opens its file: binary, or text when given an `encoding`, through WRITE_BUFFER.

    A plain file, unless the thread is inside `outputs_through(sink_for)` and `sink_for(path)` gives a
    raw stream to write to instead (the package's one-pass files: `package_files`).
    """
    sink_for: Callable[[Path], io.RawIOBase | None] | None = getattr(_outputs, "sink_for", None)
    sink = sink_for(path) if sink_for is not None else None
    if sink is None:
        if encoding is None:
            return path.open("wb", buffering=WRITE_BUFFER)
        return path.open("w", encoding=encoding, errors=errors, newline=newline, buffering=WRITE_BUFFER)
    buffered = io.BufferedWriter(sink, WRITE_BUFFER)
    if encoding is None:
        return buffered
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline=newline)


@contextmanager
def outputs_through(sink_for: Callable[[Path], io.RawIOBase | None]) -> Iterator[None]:
    """`open_output` in this thread asks `sink_for(path)` first, until the block ends."""
    _outputs.sink_for = sink_for
    try:
        yield
    finally:
        _outputs.sink_for = None


# One catalog event as the Fabric client repaired it: seconds from the start of the media,
# `end >= start >= 0`, finite numbers, text as read. Writers call it a segment.
Segment = CatalogEvent


@dataclass(frozen=True, slots=True)
class SelectRange:
    """One select: a stretch of the source media (seconds), with the label of what it came from."""

    start: float
    end: float
    label: str
    source_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Timeline:
    """The timeline the files describe: rate, timecode and the asset they point at."""

    rate: Fraction
    drop_frame: bool
    start_frame: int
    repo_guid: str
    full_path: str
    data_type: str
    title: str
    media_url: str
    width: int = 1920
    height: int = 1080
    media_duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The media's own start timecode as a frame count at `rate`, when the media was probed; None
    # without media, where the source side starts at 00:00:00:00 (SPEC §4 "Source timecode").
    source_start_frame: int | None = None

    @property
    def source_offset(self) -> int:
        """Frames to add to a position in the media to get its source timecode."""
        return self.source_start_frame or 0


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file a writer produced, how many items it holds and how many it had to leave out.

    `segments` is set by a format that merges segments into one item (EDL markers on one frame): how
    many segments its items stand for. Otherwise each item is one segment.
    """

    path: Path
    items: int
    skipped: int = 0
    segments: int | None = None


class SegmentWriter(Protocol):
    def __call__(self, path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]: ...


class SelectsWriter(Protocol):
    def __call__(self, path: Path, ranges: Sequence[SelectRange], timeline: Timeline) -> list[WrittenFile]: ...
