"""A demo export (every format, every data type) opened by tools nobody here wrote.

- LibreOffice Calc converts each `.xlsx` to CSV with no import options: every cell equals the source
  value (the catalog's, read from the export's JSON), non-ASCII included, and none is a formula (a
  formula's cell would show its result). Each `.csv` starts with the byte-order mark and, imported as
  UTF-8, gives the same cells (text behind the writer's formula guard). The hostile sample values go
  through the same two conversions. LibreOffice runs twice in all (xlsx, then csv), see
  `tests/libreoffice.py`.
- ffmpeg's SRT reader (`ffmpeg -i x.srt -f srt -`, and ffprobe's packet count) reads every cue the
  file has, with the characters the `srt` library reads, for the demo's SRTs (overlapping events laid
  out as consecutive cues), for overlapping hostile text and for text that looks like markup.
- The manifest's `items` of every EDL equals the events OpenTimelineIO's `cmx_3600` reads
  (`check_package`).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import srt

from features.create_export.timeline import Segment
from features.create_export.writers import csv as csv_writer
from features.create_export.writers import srt as srt_writer
from features.create_export.writers import xlsx as xlsx_writer
from tests.features.create_export.samples import hostile_segments, timeline
from tests.libreoffice import convert_to_csv, needs_libreoffice, read_rows
from tests.package_check import CSV_HEADER, check_package
from tests.support import ALL_FORMATS, wait_until_finished, work_order
from tools.demo_asset import load_demo_asset

DATA_TYPES = ("transcript", "events", "comments", "markers")
MARKUP_VALUES = ["<HANDLE WITH CARE>", "<b>x</b>", "<i>", "{\\an8}top", "a < b", "a < b and c > d", "C:\\New\\hard"]
FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
NUMBER = re.compile(r"\d+(\.\d*)?([eE][+-]?\d+)?")


@pytest.fixture
async def demo(catalog) -> int:
    return await load_demo_asset(catalog)


def visible(text: str) -> str:
    """What a viewer sees of a text: its printable characters, without spaces, line breaks or
    zero-width ones; `-->` as the writers spell it."""
    shown = "".join(char for char in text if char.isprintable() and not char.isspace())
    while "-->" in shown:
        shown = shown.replace("-->", "->")
    return shown


# --- SRT through ffmpeg -------------------------------------------------------------------------------


def ffmpeg_cues(path: Path) -> list[srt.Subtitle]:
    assert FFMPEG is not None
    finished = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-f", "srt", "-"], capture_output=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    return list(srt.parse(finished.stdout.decode("utf-8")))


def ffprobe_packets(path: Path) -> int:
    """How many subtitle packets ffmpeg's SRT demuxer reads from the file (one per cue it found)."""
    assert FFPROBE is not None
    finished = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "s:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr.decode(errors="replace")
    return int(finished.stdout.decode().strip())


def check_srt_in_ffmpeg(path: Path, segments: list[Segment]) -> None:
    """ffmpeg and the `srt` library read the cues the file has (count, times, characters), and every
    segment with text shows in the cue that starts at its start."""
    in_file = list(srt.parse(path.read_text(encoding="utf-8")))
    read = ffmpeg_cues(path)
    assert len(read) == len(in_file) == ffprobe_packets(path)
    for cue, written in zip(read, in_file, strict=True):
        assert abs(cue.start - written.start).total_seconds() <= 0.001
        assert abs(cue.end - written.end).total_seconds() <= 0.001
        assert visible(cue.content) == visible(written.content)
    shown_from = {round(cue.start.total_seconds() * 1000): visible(cue.content) for cue in read}
    for segment in segments:
        if visible(segment.value):
            start_ms = int((Decimal(repr(segment.start)) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            assert visible(segment.value) in shown_from[start_ms], segment


@pytest.mark.skipif(FFMPEG is None or FFPROBE is None, reason="ffmpeg is not installed")
def test_ffmpeg_and_srt_read_every_cue_of_overlapping_segments(tmp_path: Path) -> None:
    segments = [
        Segment(id=f"o{i:02d}", event_type="t", value=value, start=i * 0.5, end=i * 0.5 + 1.75)
        for i, value in enumerate(segment.value for segment in hostile_segments())
    ]
    path = tmp_path / "overlapping.srt"
    (written,) = srt_writer.write_segments(path, segments, timeline())
    cues = list(srt.parse(path.read_text(encoding="utf-8")))
    assert written.items == len(cues) == ffprobe_packets(path) > len(segments) - written.skipped
    assert all(earlier.end <= later.start for earlier, later in itertools.pairwise(cues))
    assert any(cue.content.count("\n") >= 2 for cue in cues), "three segments at once show on three lines"
    check_srt_in_ffmpeg(path, segments)


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
def test_ffmpeg_shows_srt_text_that_looks_like_markup_as_written(tmp_path: Path) -> None:
    values = [*MARKUP_VALUES, *(segment.value for segment in hostile_segments())]
    segments = [
        Segment(id=f"m{i:02d}", event_type="t", value=v, start=i * 2.0, end=i * 2.0 + 1) for i, v in enumerate(values)
    ]
    path = tmp_path / "markup.srt"
    srt_writer.write_segments(path, segments, timeline())
    check_srt_in_ffmpeg(path, segments)
    # the `srt` library reads the same text back, zero-width spaces aside
    assert [visible(cue.content) for cue in srt.parse(path.read_text(encoding="utf-8"))][:3] == [
        "<HANDLEWITHCARE>", "<b>x</b>", "<i>",
    ]  # fmt: skip


# --- spreadsheets through LibreOffice ---------------------------------------------------------------


def milliseconds_label(cell: str) -> Decimal:
    hours, minutes, seconds = cell.split(":")
    return (int(hours) * 3600 + int(minutes) * 60 + Decimal(seconds)) * 1000


def check_time_cell(cell: str, seconds: float) -> None:
    """`[hh]:mm:ss.000` as Calc shows it: the time to the nearest millisecond."""
    exact = Decimal(repr(seconds)) * 1000
    assert abs(milliseconds_label(cell) - exact) <= Decimal("0.5000001"), (cell, seconds)


def check_number_cell(cell: str, value: float | None) -> None:
    if value is None:
        assert cell == ""
    else:
        assert float(cell) == pytest.approx(value, rel=1e-12, abs=1e-12), (cell, value)


def check_xlsx_cells(rows: list[list[str]], segments: list[Segment]) -> None:
    assert tuple(rows[0]) == CSV_HEADER
    assert len(rows) == len(segments) + 1
    for row, segment in zip(rows[1:], segments, strict=True):
        assert row[:3] == [segment.id, segment.event_type, lf_breaks(segment.value)], row
        check_time_cell(row[3], segment.start)
        check_time_cell(row[4], segment.end)
        check_number_cell(row[5], segment.confidence)
        assert row[6] == (segment.source or "")


def check_csv_cells(rows: list[list[str]], segments: list[Segment]) -> None:
    assert tuple(rows[0]) == CSV_HEADER  # the byte-order mark is not part of the first name
    assert len(rows) == len(segments) + 1
    for row, segment in zip(rows[1:], segments, strict=True):
        for cell, text in zip(row[:3], (segment.id, segment.event_type, segment.value), strict=True):
            # Calc keeps a cell's line breaks as LF, as it does in xlsx; the CSV itself holds CRLF as is.
            check_csv_text_cell(cell, lf_breaks(csv_writer.guard_formula(text)))
        check_number_cell(row[3], segment.start)
        check_number_cell(row[4], segment.end)
        check_number_cell(row[5], segment.confidence)
        assert row[6] == csv_writer.guard_formula(segment.source or "")


def lf_breaks(text: str) -> str:
    """A cell's line breaks are LF (the xlsx writer's rule)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_csv_text_cell(cell: str, text: str) -> None:
    """Text as written, behind the formula guard. Text that is a number to a spreadsheet (an id of
    digits only) is a number in every spreadsheet's CSV import, Calc's and Excel's alike: the same
    number, shown in its own notation. The xlsx keeps such text as text (see docs/decisions.md)."""
    if cell == text:
        return
    assert NUMBER.fullmatch(text), (cell, text)
    assert float(cell) == pytest.approx(float(text), rel=1e-14), (cell, text)


def exported_segments(folder: Path, data_type: str) -> list[Segment]:
    """The segments as the export's JSON holds them (the catalog's values), in the sheets' order."""
    document = json.loads((folder / data_type / f"sdna_ai_spark_{data_type}.json").read_text(encoding="utf-8"))
    segments = [
        Segment(
            id=item["id"],
            event_type=item["sdnaEventType"],
            value=item["eventValue"],
            start=item["start"],
            end=item["end"],
            confidence=item.get("confidenceScore"),
            source=item.get("source"),
        )
        for item in document["segments"]
    ]
    return sorted(segments, key=lambda segment: (segment.start, segment.id))


async def export_everything(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/spark", json=work_order(ALL_FORMATS))
    assert response.status_code == 202, response.text
    status = await wait_until_finished(client, response.json()["links"]["status"], within=180)
    job = (await client.get(response.headers["location"])).json()
    assert status["status"] == "completed", job["errors"]
    return job


@needs_libreoffice
@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
async def test_a_demo_export_opens_right_in_calc_ffmpeg_and_otio(client, demo, settings, tmp_path: Path) -> None:
    job = await export_everything(client)
    manifest = job["manifest"]
    folder = settings.export_base_path / job["spark_id"]
    check_package(folder, manifest)  # EDL `items` = the events OpenTimelineIO reads, among the rest
    edls = [artifact for artifact in manifest["artifacts"] if artifact["format"] == "edl"]
    assert edls and all(artifact["segments"] >= artifact["items"] for artifact in edls)
    assert any(artifact["segments"] > artifact["items"] for artifact in edls), "the demo has markers on one frame"

    expected = {data_type: exported_segments(folder, data_type) for data_type in DATA_TYPES}
    samples = sorted(hostile_segments(), key=lambda segment: (segment.start, segment.id))
    (tmp_path / "samples").mkdir()
    xlsx_writer.write_segments(tmp_path / "samples" / "hostile.xlsx", samples, timeline())
    csv_writer.write_segments(tmp_path / "samples" / "hostile.csv", samples, timeline())
    expected["hostile"] = samples
    sources = {data_type: folder / data_type / f"sdna_ai_spark_{data_type}" for data_type in DATA_TYPES}
    sources["hostile"] = tmp_path / "samples" / "hostile"

    profile = tmp_path / "libreoffice-profile"
    xlsx_files = {name: stem.with_suffix(".xlsx") for name, stem in sources.items()}
    csv_files = {name: stem.with_suffix(".csv") for name, stem in sources.items()}
    from_xlsx = convert_to_csv(list(xlsx_files.values()), tmp_path / "from-xlsx", profile)
    from_csv = convert_to_csv(list(csv_files.values()), tmp_path / "from-csv", profile, csv_input=True)
    for name in sources:
        check_xlsx_cells(read_rows(from_xlsx[xlsx_files[name]]), expected[name])
        assert csv_files[name].read_bytes().startswith(b"\xef\xbb\xbfid,")
        check_csv_cells(read_rows(from_csv[csv_files[name]]), expected[name])

    for data_type in DATA_TYPES:
        check_srt_in_ffmpeg(folder / data_type / f"sdna_ai_spark_{data_type}.srt", expected[data_type])
