"""The xlsx writer, read back by openpyxl (an independent reader): strings stay strings, times are
numbers in a time format, the header is frozen, and nothing is a formula.

LibreOffice's reading of a whole demo export is in `test_other_readers.py`.
"""

from __future__ import annotations

import datetime
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from lxml import etree
from openpyxl.utils.escape import unescape

from features.create_export.timeline import Segment, WrittenFile
from features.create_export.writers import xlsx as xlsx_writer
from tests.features.create_export.samples import hostile_segments, many_segments, timeline
from tests.package_check import CSV_HEADER, read_xlsx_rows

SETS = {"hostile": hostile_segments, "many": lambda: many_segments(5_000)}


def cell_value(value: object) -> object:
    """openpyxl leaves XML's `_xHHHH_` escapes of control characters in inline strings; Excel and
    LibreOffice turn them back, so the comparison does too."""
    return unescape(value) if isinstance(value, str) else value


@pytest.mark.parametrize("name", list(SETS))
def test_xlsx_holds_every_value_as_written(tmp_path: Path, name: str) -> None:
    segments = SETS[name]()
    path = tmp_path / "out.xlsx"
    assert xlsx_writer.write_segments(path, segments, timeline()) == [WrittenFile(path=path, items=len(segments))]
    rows = read_xlsx_rows(path)
    assert len(rows) == len(segments) + 1
    ordered = sorted(segments, key=lambda segment: (segment.start, segment.id))
    for row, segment in zip(rows[1:], ordered, strict=True):
        identifier, event_type, value, start, end, confidence, source = map(cell_value, row)
        expected_value = segment.value.replace("\r\n", "\n").replace("\r", "\n")
        assert (identifier, event_type, value or "") == (segment.id, segment.event_type, expected_value)
        for cell, seconds in ((start, segment.start), (end, segment.end)):
            assert isinstance(cell, datetime.timedelta), cell
            assert cell.total_seconds() == pytest.approx(seconds, abs=1e-6)
        assert confidence == segment.confidence
        assert source == segment.source


def test_xlsx_text_that_looks_like_formulas_numbers_or_links_stays_text(tmp_path: Path) -> None:
    values = ["=1+1", '=HYPERLINK("http://x")', "+1", "-1", "@SUM(1)", "0042", "1e5", "http://example.com/a"]
    segments = [Segment(id=f"{i}", event_type="t", value=v, start=i, end=i) for i, v in enumerate(values)]
    path = tmp_path / "out.xlsx"
    xlsx_writer.write_segments(path, segments, timeline())
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    cells = [sheet.cell(row=row, column=3) for row in range(2, len(values) + 2)]
    assert [cell.value for cell in cells] == values
    assert all(cell.data_type == "s" for cell in cells)
    assert not sheet._hyperlinks
    with zipfile.ZipFile(path) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_xlsx_header_is_frozen_with_times_formatted_and_sensible_widths(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    xlsx_writer.write_segments(path, hostile_segments(), timeline(data_type="markers"))
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    assert sheet.title == "markers"
    assert sheet.freeze_panes == "A2"
    assert tuple(cell.value for cell in sheet[1]) == CSV_HEADER
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.auto_filter.ref.startswith("A1:G")
    assert {sheet.cell(row=2, column=column).number_format for column in (4, 5)} == {"[hh]:mm:ss.000"}
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFG"}
    assert widths["C"] > 60 and all(12 <= width <= 30 for letter, width in widths.items() if letter != "C")


def test_xlsx_of_nothing_is_a_header(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    assert xlsx_writer.write_segments(path, [], timeline()) == [WrittenFile(path=path, items=0)]
    assert read_xlsx_rows(path) == [CSV_HEADER]


def xlsxwriter_cell_by_cell(path: Path, segments: list[Segment], data_type: str) -> None:
    """The workbook as XlsxWriter writes it through its public per-cell API: what the writer's own
    row XML must equal (it writes the rows itself, issue 14)."""
    ordered = sorted(segments, key=lambda segment: (segment.start, segment.id))
    workbook = xlsxwriter.Workbook(str(path), xlsx_writer.WORKBOOK_OPTIONS)
    sheet = workbook.add_worksheet(data_type)
    time_format = workbook.add_format({"num_format": xlsx_writer.TIME_FORMAT})
    xlsx_writer._write_header(sheet, workbook.add_format({"bold": True}), len(ordered))
    for row, segment in enumerate(ordered, start=1):
        sheet.write_string(row, 0, xlsx_writer.cell_text(segment.id))
        sheet.write_string(row, 1, xlsx_writer.cell_text(segment.event_type))
        sheet.write_string(row, 2, xlsx_writer.cell_text(segment.value))
        sheet.write_number(row, 3, segment.start / xlsx_writer.SECONDS_PER_DAY, time_format)
        sheet.write_number(row, 4, segment.end / xlsx_writer.SECONDS_PER_DAY, time_format)
        if segment.confidence is not None:
            sheet.write_number(row, 5, segment.confidence)
        if segment.source is not None:
            sheet.write_string(row, 6, xlsx_writer.cell_text(segment.source))
    workbook.close()


EDGE_TEXTS = [
    " leading",
    "trailing ",
    "\tboth\n",
    "ends in a line break\n",
    "\u3000ideographic space",
    "_x0041_ escaped",
    "_X00a1_",
    "ctl\x00\x07\x1b\x7f",
    "<r>",
    'a & b < c > d "q"',
    "\ufffe\uffff",
    "\r\n\r",
    "lone \ud800 surrogate",
    "🎬" * 20_000,
    "a" * 40_000,
    "é" * 16_400 + "🎬" * 10,
    "",
    "   ",
]


@pytest.mark.parametrize("name", [*SETS, "edges"])
def test_xlsx_rows_are_what_xlsxwriter_writes_cell_by_cell(tmp_path: Path, name: str) -> None:
    if name == "edges":
        texts = EDGE_TEXTS
        segments = [
            Segment(id=text, event_type=text, value=text, start=i / 3, end=i, confidence=i / 7 or None, source=text)
            for i, text in enumerate(texts)
        ]
    else:
        segments = SETS[name]()
    xlsx_writer.write_segments(tmp_path / "fast.xlsx", segments, timeline())
    xlsxwriter_cell_by_cell(tmp_path / "cells.xlsx", segments, timeline().data_type)
    with zipfile.ZipFile(tmp_path / "fast.xlsx") as fast, zipfile.ZipFile(tmp_path / "cells.xlsx") as cells:
        assert fast.namelist() == cells.namelist()
        for part in ("xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml", "[Content_Types].xml"):
            assert fast.read(part) == cells.read(part), part


def test_a_value_that_looks_like_rich_text_xml_is_written_as_text(tmp_path: Path) -> None:
    """XlsxWriter would write `<r>...</r>` raw (its constant-memory rich-text path): `a & b` inside
    made the sheet invalid XML. Ours escapes it like any other text."""
    values = ["<r>a & b</r>", "<r><t>bold?</t></r>"]
    segments = [Segment(id=f"r-{i}", event_type="comment", value=v, start=i, end=i + 1) for i, v in enumerate(values)]
    xlsx_writer.write_segments(tmp_path / "rich.xlsx", segments, timeline())
    with zipfile.ZipFile(tmp_path / "rich.xlsx") as archive:
        etree.fromstring(archive.read("xl/worksheets/sheet1.xml"))  # well-formed, or this raises
    rows = read_xlsx_rows(tmp_path / "rich.xlsx")
    assert [row[2] for row in rows[1:]] == values
