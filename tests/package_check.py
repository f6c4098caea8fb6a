"""Reading a whole spark package back with independent readers, for the API and crash tests.

Each artifact is opened by a library that did not write it (OpenTimelineIO, lxml with Apple's DTD,
`srt`, `webvtt-py`, `csv`, `json`, `openpyxl`); sizes and sha256 are checked against the manifest, and the zip
against the folder. Returns the number of items each reader found, so tests can compare them with
the manifest's counts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import zipfile
from fractions import Fraction
from pathlib import Path

import openpyxl
import opentimelineio as otio
import srt
import webvtt
from lxml import etree

CSV_HEADER = ("id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source")
MEDIA_FORMATS = {"mp4", "mov", "mkv", "mxf"}
FCPXML_DTD = Path(__file__).parent / "fixtures" / "fcpxml-dtd" / "FCPXMLv1_10.dtd"


def _dtd() -> etree.DTD:
    return etree.DTD(str(FCPXML_DTD))


def read_items(path: Path, fmt: str, rate: Fraction) -> int:
    """How many items an independent reader finds in one artifact (raises if it cannot read it)."""
    if fmt == "json":
        document = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constants)
        return len(document["segments"])
    if fmt == "csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbfid,")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == list(CSV_HEADER)
        assert all(len(row) == 7 for row in rows)
        return len(rows) - 1
    if fmt == "xlsx":
        return len(read_xlsx_rows(path)) - 1
    if fmt == "srt":
        return len(list(srt.parse(path.read_text(encoding="utf-8"))))
    if fmt == "vtt":
        return len(webvtt.read(str(path)).captions)
    if fmt == "edl":
        timeline = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=float(rate))
        return len(list(timeline.find_clips()))
    if fmt == "fcpxml":
        document = etree.parse(str(path))
        assert _dtd().validate(document), _dtd().error_log.filter_from_errors()
        return len(document.findall(".//marker")) or len(document.findall(".//spine/asset-clip"))
    if fmt == "xmeml":
        timeline = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
        markers = len(timeline.tracks.markers) + sum(len(clip.markers) for clip in timeline.find_clips())
        return markers or len(list(timeline.find_clips()))
    if fmt == "otio":
        timeline = otio.adapters.read_from_file(str(path), adapter_name="otio_json")
        markers = sum(len(clip.markers) for clip in timeline.find_clips())
        return markers or len(list(timeline.find_clips()))
    if fmt == "avid":
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        assert all(len(line.split("\t")) >= 6 for line in lines)
        return len(lines)
    if fmt in ("txt", "md"):
        assert path.read_text(encoding="utf-8").strip()
        return 1
    if fmt in MEDIA_FORMATS:
        return _media_items(path)
    raise AssertionError(f"no reader for {fmt}")


def read_xlsx_rows(path: Path) -> list[tuple]:
    """The sheet's rows as openpyxl reads them; the header, the CSV's width, and not one formula."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        (sheet,) = workbook.worksheets
        rows = []
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row), [cell.value for cell in row]
            rows.append(tuple(cell.value for cell in row))
    finally:
        workbook.close()
    assert rows[0] == CSV_HEADER
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    return rows


def _media_items(path: Path) -> int:
    """A proxy or subclip: ffprobe (not the code that cut it) finds a video stream in it."""
    command = ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)]
    streams = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)["streams"]
    assert any(stream["codec_type"] == "video" for stream in streams), path
    return 1


def _no_constants(name: str) -> None:
    raise AssertionError(f"JSON must not contain {name}")


def check_package(folder: Path, manifest: dict) -> dict[str, int]:
    """Every artifact of the manifest exists, matches its size and hash, and reads back; the zip holds
    exactly the folder's files. Returns the items read per artifact path."""
    rate = Fraction(manifest["frame_rate"])
    found: dict[str, int] = {}
    for artifact in manifest["artifacts"]:
        path = folder / artifact["path"]
        data = path.read_bytes()
        assert len(data) == artifact["size"], artifact["path"]
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"], artifact["path"]
        found[artifact["path"]] = read_items(path, artifact["format"], rate)
        if artifact["format"] in ("edl", "csv", "xlsx"):  # what the file holds, as a reader counts it
            assert found[artifact["path"]] == artifact["items"], artifact
    on_disk = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.name != f"{manifest['spark_id']}.zip"
    )
    with zipfile.ZipFile(folder / f"{manifest['spark_id']}.zip") as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == on_disk
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["artifacts"] == manifest["artifacts"]
    return found
