"""XLSX export: the CSV's columns on one sheet, an editor's log that opens right with no import dialog.

`id, sdnaEventType, eventValue, start, end, confidenceScore, source`, one row per segment ordered by
start, like the CSV. Written by XlsxWriter in its constant-memory mode (each row goes to disk as it is
written, so 100,000 segments never sit in memory as cells).

- Text cells are strings, always: `write_string`, and the workbook's `strings_to_formulas`,
  `strings_to_urls` and `strings_to_numbers` are off. A spreadsheet never evaluates a string cell, so
  no formula guard is needed (`=1+1` is shown as `=1+1`, as the catalog holds it). Characters XML
  cannot carry are escaped by XlsxWriter (`_x0007_`), which every reader turns back.
- A line break inside a cell is LF, the one Excel (Alt+Enter) and Calc write: CRLF and lone CR
  become LF (Calc drops the CR of a CRLF, Excel shows nothing for it, so they only made the cell
  differ from what is shown).
- `start` and `end` are times: numbers (the fraction of a day spreadsheets count time in) with the
  format `[hh]:mm:ss.000`, so they sort, subtract and sum; `confidenceScore` is a plain number; an
  empty cell means "not given".
- The header row is bold, frozen and carries an autofilter; columns have fixed widths that fit their
  content (ids, types, a wide value column), since constant-memory mode cannot measure cells afterwards.
- Excel's limits: a cell holds at most 32,767 characters (longer text is cut to fit), a sheet
  1,048,576 rows (more segments fail the artifact with a message saying so, before anything is
  written).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter

from features.create_export.timeline import Segment, Timeline, WrittenFile

HEADER = ("id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source")
WIDTHS = (26, 18, 80, 14, 14, 16, 14)
TIME_FORMAT = "[hh]:mm:ss.000"
SECONDS_PER_DAY = 86_400
MAX_ROWS = 1_048_576
MAX_CELL_CHARACTERS = 32_767
_CR_LINE_BREAK = re.compile("\r\n?")
WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one row per segment under a frozen header and return the file written."""
    if len(segments) + 1 > MAX_ROWS:
        raise ValueError(f"{len(segments)} segments do not fit one xlsx sheet (at most {MAX_ROWS - 1} rows)")
    ordered = sorted(segments, key=lambda segment: (segment.start, segment.id))
    workbook = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    try:
        sheet = workbook.add_worksheet(timeline.data_type[:31] or "segments")
        time_format = workbook.add_format({"num_format": TIME_FORMAT})
        _write_header(sheet, workbook.add_format({"bold": True}), len(ordered))
        for row, segment in enumerate(ordered, start=1):
            _write_row(sheet, row, segment, time_format)
    finally:
        workbook.close()
    return [WrittenFile(path=path, items=len(ordered))]


def _write_header(sheet: xlsxwriter.worksheet.Worksheet, bold: xlsxwriter.format.Format, rows: int) -> None:
    for column, (name, width) in enumerate(zip(HEADER, WIDTHS, strict=True)):
        sheet.set_column(column, column, width)
        sheet.write_string(0, column, name, bold)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(rows, 1), len(HEADER) - 1)


def _write_row(sheet: xlsxwriter.worksheet.Worksheet, row: int, segment: Segment, time_format: object) -> None:
    sheet.write_string(row, 0, cell_text(segment.id))
    sheet.write_string(row, 1, cell_text(segment.event_type))
    sheet.write_string(row, 2, cell_text(segment.value))
    sheet.write_number(row, 3, segment.start / SECONDS_PER_DAY, time_format)
    sheet.write_number(row, 4, segment.end / SECONDS_PER_DAY, time_format)
    if segment.confidence is not None:
        sheet.write_number(row, 5, segment.confidence)
    if segment.source is not None:
        sheet.write_string(row, 6, cell_text(segment.source))


def cell_text(text: str) -> str:
    """Text a cell can hold: valid UTF-8 (a lone surrogate becomes `?`), line breaks as LF, at most
    32,767 characters."""
    valid = text.encode("utf-8", "replace").decode("utf-8")
    return _CR_LINE_BREAK.sub("\n", valid)[:MAX_CELL_CHARACTERS]
