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

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path

from features.create_export.segment_table import SegmentTable
from features.create_export.timeline import Segment, Timeline, WrittenFile, open_output

try:  # the C speedup (setup.py builds it where it can); without it, the Python path writes the same
    from features.create_export.writers import _rows_native
except ImportError:
    _rows_native = None

HEADER = ("id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 2000


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one row per segment under the header and return the file written."""
    table = SegmentTable.of(segments)
    # A binary file that writes its own byte-order mark: the C rows are UTF-8 already.
    with open_output(path) as stream:
        stream.write(codecs.BOM_UTF8 + _csv_bytes([HEADER]))
        render = _python_chunk if _rows_native is None else _native_chunk
        # A chunk at a time, so neither path holds the GIL for long (see json.py).
        for first in range(0, len(table), CHUNK):
            stream.write(render(table.segments, first, min(first + CHUNK, len(table))))
    return [WrittenFile(path=path, items=len(table))]


def _csv_bytes(rows: Iterable[tuple[str, ...]]) -> bytes:
    """Rows as `csv.writer` writes them, in UTF-8 (strict: a lone surrogate raises, as it always did)."""
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode("utf-8")


def _python_chunk(segments: list[Segment], first: int, stop: int) -> bytes:
    return _csv_bytes(_row(segment) for segment in segments[first:stop])


def _native_chunk(segments: list[Segment], first: int, stop: int) -> bytes:
    def row_bytes(index: int) -> bytes:
        # The rows C leaves to Python: exponent floats (`Decimal` spells them out), unusual types.
        return _csv_bytes([_row(segments[index])])

    chunk = _rows_native.csv_rows(segments, first, stop - first, row_bytes)
    # None: text UTF-8 cannot encode (a lone surrogate); the Python path raises its error.
    return _python_chunk(segments, first, stop) if chunk is None else chunk


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
