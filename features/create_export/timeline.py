"""What every writer of the export slice receives: clean segments and the timeline they sit on.

The processor repairs catalog documents into `Segment`s before any writer runs (start ≥ 0,
end ≥ start, finite numbers, text as read), so writers only decide how to spell them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

from shared.fabric import CatalogEvent

# Every writer opens its file with this buffer (issue 14). With Python's 8 KB default a writer thread
# makes a system call every 8 KB, dropping the GIL and taking it straight back each time; the event
# loop's thread, waiting for its turn, then never sees the GIL change hands idle long enough to ask
# for it, and a `/status` answer waited up to ~110 ms behind a CSV being written. Measured with a
# 1 MB buffer: at most ~5 ms.
WRITE_BUFFER = 1024 * 1024

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
