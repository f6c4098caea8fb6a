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

Issue 14 (CPU): XlsxWriter's per-cell bookkeeping cost ~40 µs a row. In constant-memory mode a data
row is only text on its way to the sheet's row file, so this writer lets XlsxWriter write everything
else (header, workbook, styles, the sheet around the rows) and writes the data rows' XML itself, a few
thousand rows at a time, in exactly the form XlsxWriter's `_write_cell` gives them (inline strings with
its `_xHHHH_` escapes, `xml:space="preserve"`, `%.16G` numbers). That leans on XlsxWriter's
constant-memory internals (`fh`, `previous_row`, `dim_rowmax`, `_write_single_row`);
`test_xlsx_writer` holds the sheet to XlsxWriter's own per-cell output, so a change there fails a test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from features.create_export.segment_table import SegmentTable
from features.create_export.timeline import Segment, Timeline, WrittenFile

HEADER = ("id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source")
WIDTHS = (26, 18, 80, 14, 14, 16, 14)
TIME_FORMAT = "[hh]:mm:ss.000"
SECONDS_PER_DAY = 86_400
MAX_ROWS = 1_048_576
MAX_CELL_CHARACTERS = 32_767
_CR_LINE_BREAK = re.compile("\r\n?")
# XlsxWriter's limit: 32,767 UTF-16 units, which it cuts to itself (cell_text cuts code points).
MAX_CELL_UTF16_UNITS = 32_767
ROWS_PER_WRITE = 2048
_XLSX_ESCAPE_ESCAPES = re.compile("(_x[0-9a-fA-F]{4}_)")
_XLSX_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one row per segment under a frozen header and return the file written."""
    table = SegmentTable.of(segments)
    if len(table) + 1 > MAX_ROWS:
        raise ValueError(f"{len(table)} segments do not fit one xlsx sheet (at most {MAX_ROWS - 1} rows)")
    workbook = xlsxwriter.Workbook(str(path), WORKBOOK_OPTIONS)
    try:
        sheet = workbook.add_worksheet(timeline.data_type[:31] or "segments")
        time_format = workbook.add_format({"num_format": TIME_FORMAT})
        _write_header(sheet, workbook.add_format({"bold": True}), len(table))
        _write_rows(sheet, table, time_format)
    finally:
        workbook.close()
    return [WrittenFile(path=path, items=len(table))]


def _write_header(sheet: Worksheet, bold: xlsxwriter.format.Format, rows: int) -> None:
    for column, (name, width) in enumerate(zip(HEADER, WIDTHS, strict=True)):
        sheet.set_column(column, column, width)
        sheet.write_string(0, column, name, bold)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(rows, 1), len(HEADER) - 1)


def _write_rows(sheet: Worksheet, table: SegmentTable, time_format: xlsxwriter.format.Format) -> None:
    """Rows 2... of the sheet, written to XlsxWriter's row file after the header, as it would."""
    if not table:
        return
    sheet._write_single_row(1)  # the header row goes to the row file; the data rows follow it
    # Formats are numbered as rows first use them: the header's bold first (styles.xml's order).
    time_style = time_format._get_xf_index()
    repeated: dict[str, str] = {}  # event types and sources: a few distinct values, escaped once
    for first in range(0, len(table), ROWS_PER_WRITE):
        rows = zip(range(first + 2, first + 2 + ROWS_PER_WRITE), table[first : first + ROWS_PER_WRITE], strict=False)
        sheet.fh.write("".join([_row_xml(number, segment, time_style, repeated) for number, segment in rows]))
    sheet.previous_row = sheet.dim_rowmax = len(table)


def _row_xml(number: int, segment: Segment, time_style: int, repeated: dict[str, str]) -> str:
    """XlsxWriter's `<row>` of one segment (`number` from 1, the header's row)."""
    event_type = repeated.get(segment.event_type) or repeated.setdefault(
        segment.event_type, _inline_string(segment.event_type)
    )
    cells = (
        f'<row r="{number}"><c r="A{number}" t="inlineStr">{_inline_string(segment.id)}</c>'
        f'<c r="B{number}" t="inlineStr">{event_type}</c>'
        f'<c r="C{number}" t="inlineStr">{_inline_string(segment.value)}</c>'
        f'<c r="D{number}" s="{time_style}"><v>{segment.start / SECONDS_PER_DAY:.16G}</v></c>'
        f'<c r="E{number}" s="{time_style}"><v>{segment.end / SECONDS_PER_DAY:.16G}</v></c>'
    )
    if segment.confidence is not None:
        cells += f'<c r="F{number}"><v>{segment.confidence:.16G}</v></c>'
    if segment.source is not None:
        source = repeated.get(segment.source) or repeated.setdefault(segment.source, _inline_string(segment.source))
        cells += f'<c r="G{number}" t="inlineStr">{source}</c>'
    return cells + "</row>"


def _inline_string(text: str) -> str:
    """The `<is>` of a text cell as XlsxWriter's constant-memory `_write_cell` writes `cell_text(text)`."""
    text = cell_text(text)
    if len(text) > MAX_CELL_UTF16_UNITS // 2 and len(text.encode("utf-16-le")) // 2 > MAX_CELL_UTF16_UNITS:
        text = _utf16_cut(text)
    # Printable text has no control character or non-character, and without "_x" no escape to escape.
    if "_x" in text or not text.isprintable():
        text = _escape_control_characters(text)
    # XlsxWriter's constant-memory `_write_cell` writes a string of the form `<r>...</r>` raw, taking
    # it for rich-text XML: a catalog value `<r>a & b</r>` made the sheet invalid XML. Escaped here.
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # XlsxWriter's test is re `^\s` or `\s$`: `$` also matches before a final "\n", itself a space.
    if text[:1].isspace() or text[-1:].isspace():
        return f'<is><t xml:space="preserve">{text}</t></is>'
    return f"<is><t>{text}</t></is>"


def _escape_control_characters(text: str) -> str:
    """XlsxWriter's `_xHHHH_` escapes: an existing `_xHHHH_` gets its `_` escaped, then controls."""
    text = _XLSX_ESCAPE_ESCAPES.sub(r"_x005F\1", text)
    text = _XLSX_CONTROL.sub(lambda match: f"_x{ord(match.group(1)):04X}_", text)
    return text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


def _utf16_cut(text: str) -> str:
    """At most MAX_CELL_UTF16_UNITS UTF-16 units, cut before a character that would not fit."""
    units = 0
    for index, character in enumerate(text):
        units += 2 if ord(character) > 0xFFFF else 1
        if units > MAX_CELL_UTF16_UNITS:
            return text[:index]
    return text


def cell_text(text: str) -> str:
    """Text a cell can hold: valid UTF-8 (a lone surrogate becomes `?`), line breaks as LF, at most
    32,767 characters."""
    if not text.isascii():  # ASCII has no lone surrogate
        text = text.encode("utf-8", "replace").decode("utf-8")
    if "\r" in text:
        text = _CR_LINE_BREAK.sub("\n", text)
    return text[:MAX_CELL_CHARACTERS]
