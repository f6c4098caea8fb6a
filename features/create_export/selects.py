"""Selects: the stretches of media worth cutting, built from segments (SPEC §4 `selects`, §5 "Selects").

Each segment is widened by `handle_seconds` on both sides, clamped to the media, and ranges that
overlap or touch are merged, so the cut list never plays the same frame twice in a row and never
asks for media that does not exist.

Choices:
- Arithmetic is exact (each float taken as the decimal it prints as), so `4.4 - 2` gives 2.4, not
  2.4000000000000004, and touching ranges are recognised as touching.
- Ranges are clamped first and merged second, then merged ranges of zero length are dropped: a
  zero-length segment sitting on the edge of another range still lends its id to that range.
- A segment entirely after the end of known media (its widened start is past the end) has nothing
  to show and is left out.
- The label is the merged segments' values (one line each, blanks skipped) joined by " / ",
  truncated; `source_ids` keeps every id, in start order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from features.create_export.text import single_line, truncate, xml_safe
from features.create_export.timecode import exact_seconds
from features.create_export.timeline import Segment, SelectRange

LABEL_LIMIT = 255
LABEL_SEPARATOR = " / "


@dataclass(slots=True)
class _Pending:
    """A range being grown while merging; exact bounds so touching is exact."""

    start: Fraction
    end: Fraction
    segments: list[Segment] = field(default_factory=list)


def build_select_ranges(
    segments: Iterable[Segment], handle_seconds: float, media_duration: float | None
) -> list[SelectRange]:
    """Widen, clamp, merge and sort the segments' ranges; see the module docstring for the rules."""
    handle = _non_negative(handle_seconds, "handle_seconds")
    limit = None if media_duration is None else _non_negative(media_duration, "media_duration")
    widened = (_widened(segment, handle, limit) for segment in segments)
    candidates = sorted((c for c in widened if c is not None), key=lambda c: (c.start, c.end))
    return [_to_select(merged) for merged in _merge(candidates) if merged.end > merged.start]


def _non_negative(value: float, name: str) -> Fraction:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds ≥ 0, got {value!r}")
    return exact_seconds(value)


def _widened(segment: Segment, handle: Fraction, limit: Fraction | None) -> _Pending | None:
    start = max(Fraction(0), exact_seconds(segment.start) - handle)
    end = exact_seconds(segment.end) + handle
    if limit is not None:
        end = min(end, limit)
    if start > end:
        # Starts after the end of the media even with the handle: nothing to select.
        return None
    return _Pending(start, end, [segment])


def _merge(candidates: list[_Pending]) -> list[_Pending]:
    """Fold sorted ranges together while the next one starts at or before the current end."""
    merged: list[_Pending] = []
    for candidate in candidates:
        if merged and candidate.start <= merged[-1].end:
            current = merged[-1]
            current.end = max(current.end, candidate.end)
            current.segments.extend(candidate.segments)
        else:
            merged.append(candidate)
    return merged


def _to_select(pending: _Pending) -> SelectRange:
    ordered = sorted(pending.segments, key=lambda segment: (segment.start, segment.end, segment.id))
    values = (single_line(xml_safe(segment.value)) for segment in ordered)
    label = truncate(LABEL_SEPARATOR.join(value for value in values if value), LABEL_LIMIT)
    return SelectRange(
        start=float(pending.start),
        end=float(pending.end),
        label=label,
        source_ids=tuple(segment.id for segment in ordered),
    )
