"""CSV export: RFC 4180 rows of `id,sdnaEventType,eventValue,start,end,confidenceScore,source`.

UTF-8 with a byte-order mark: Excel and LibreOffice's import dialog detect UTF-8 by it, and without it
they show every non-ASCII character as mojibake (`€` → `â‚¬`). Readers that decode with `utf-8-sig`
(Python's `csv`, pandas, most tools) read the first header name exactly. CRLF record ends and quoting
by the `csv` module (RFC 4180, FORMAT-FACTS §8). Segments are ordered by start.

Formula guard: a text cell that starts with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`, so a
spreadsheet shows it instead of running it (OWASP "CSV injection"). Numbers are never guarded: they are
written as plain decimals (`0.00001`, never `1e-05`), and an empty cell means "not given".
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from features.create_export.segment_table import SegmentTable
from features.create_export.timeline import WRITE_BUFFER, Segment, Timeline, WrittenFile

HEADER = ("id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one row per segment under the header and return the file written."""
    table = SegmentTable.of(segments)
    with path.open("w", encoding="utf-8-sig", newline="", buffering=WRITE_BUFFER) as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(_row(segment) for segment in table)
    return [WrittenFile(path=path, items=len(table))]


def _row(segment: Segment) -> tuple[str, ...]:
    confidence, source = segment.confidence, segment.source
    return (
        guard_formula(segment.id),
        guard_formula(segment.event_type),
        guard_formula(segment.value),
        plain_number(segment.start),
        plain_number(segment.end),
        "" if confidence is None else plain_number(confidence),
        "" if source is None else guard_formula(source),
    )


def guard_formula(text: str) -> str:
    """Prefix `'` to text a spreadsheet would otherwise evaluate."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def plain_number(value: float) -> str:
    """The shortest decimal that reads back as the same float, without an exponent."""
    shortest = repr(value if type(value) is float else float(value))
    if "e" in shortest or "n" in shortest:  # 1e-05, inf, nan: Decimal spells them out
        return format(Decimal(shortest), "f")
    return shortest
