"""JSON, CSV, SRT, WebVTT and Avid marker writers: real files read back by independent readers.

Each file is parsed twice: by the library a consumer would use (`json`, `csv`, `srt`, `webvtt-py`) and
by a strict reader written here, because those libraries are lenient (FORMAT-FACTS §10). Expected
frames, milliseconds and timecodes come from `exact.py` (decimal arithmetic, the `timecode` package).
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import html
import itertools
import json
import re
import subprocess
import sys
import tempfile
import threading
import tracemalloc
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from features.create_export.timeline import Segment, Timeline, WrittenFile
from features.create_export.writers import avid as avid_writer
from features.create_export.writers import csv as csv_writer
from features.create_export.writers import json as json_writer
from features.create_export.writers import srt as srt_writer
from features.create_export.writers import vtt as vtt_writer
from tests.features.create_export.exact import exact_frame, exact_milliseconds, label_to_frame
from tests.features.create_export.samples import MODE_IDS, MODES, hostile_segments, many_segments, timeline

SETS = {"hostile": hostile_segments, "many": lambda: many_segments(10_000)}
CSV_HEADER = ["id", "sdnaEventType", "eventValue", "start", "end", "confidenceScore", "source"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SRT_TIMING = re.compile(r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d),(\d{3})")
VTT_TIMING = re.compile(r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})")
ROOT = Path(__file__).resolve().parents[3]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
AVID_COLOURS = {"transcript": "blue", "events": "green", "comments": "yellow", "markers": "red"}

# What the C rows (`writers/_rows_native.c`) are compared on: text the catalog can hold (any code
# point but a surrogate: its UTF-8 cannot carry one), led or cut by what a writer treats specially.
SPECIAL = (*FORMULA_STARTS, ",", '"', "\r\n", "\n", "\r", "\\", "\x00", "\x1f", "\x7f", "\u2028", "\u2029", "'", "é")
CATALOG_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
TEXT = st.one_of(
    CATALOG_TEXT,
    st.lists(st.sampled_from(SPECIAL) | CATALOG_TEXT, max_size=4).map("".join),
)
# Any float (subnormals, huge values, -0.0) where nothing else depends on it; times stay where
# their frames fit the 64 bits orjson writes, as a repaired catalog's do.
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)
TIME = st.floats(min_value=0, max_value=1e15) | st.integers(0, 10**9).map(lambda ms: ms / 1000)
POSITIONS = st.none() | st.lists(st.integers(-(2**63), 2**63 - 1) | st.floats() | CATALOG_TEXT, max_size=3)
SEGMENTS = st.lists(
    st.builds(
        lambda identifier, event_type, value, times, confidence, source, positions: Segment(
            id=identifier,
            event_type=event_type,
            value=value,
            start=min(times),
            end=max(times),
            confidence=confidence,
            source=source,
            positions=positions,
        ),
        TEXT,
        TEXT,
        TEXT,
        st.tuples(TIME, TIME),
        st.none() | ANY_FLOAT,
        st.none() | TEXT,
        st.none() | POSITIONS,
    ),
    max_size=8,
)


@pytest.fixture(scope="module", params=list(SETS), ids=list(SETS))
def segments(request: pytest.FixtureRequest) -> list[Segment]:
    return SETS[request.param]()


@pytest.fixture(params=MODES, ids=MODE_IDS)
def line(request: pytest.FixtureRequest) -> Timeline:
    rate, drop_frame = request.param
    # Record start 01:00:00:00, read by the `timecode` package, not by the code under test.
    return timeline(rate=rate, drop_frame=drop_frame, start_frame=label_to_frame("01:00:00:00", rate, drop_frame))


def by_start(segments: Sequence[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda segment: (segment.start, segment.id))


def has_text(value: str) -> bool:
    return any(char.isprintable() and not char.isspace() for char in value)


def squeeze(text: str) -> str:
    """Text without whitespace or control characters: what must survive any clean-up."""
    return "".join(char for char in text if char.isprintable() and not char.isspace())


def compact(text: str) -> str:
    """`squeeze`d, with arrows as `->`: what a subtitle cue must still say."""
    squeezed = squeeze(text)
    while "-->" in squeezed:
        squeezed = squeezed.replace("-->", "->")
    return squeezed


def one_frame_ms(rate: Fraction) -> int:
    millis = (Decimal(1000) * rate.denominator / rate.numerator).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(1, int(millis))


def expected_cue_ms(segment: Segment, rate: Fraction) -> tuple[int, int]:
    start, end = exact_milliseconds(segment.start), exact_milliseconds(segment.end)
    return start, end if end > start else start + one_frame_ms(rate)


def written_by(writer: ModuleType, segments: Sequence[Segment], line: Timeline, native: bool) -> bytes:
    """The file `writer` writes, with its C rows or (native=False) by its Python path alone."""
    with (
        mock.patch.object(writer, "_rows_native", writer._rows_native if native else None),
        tempfile.TemporaryDirectory() as folder,
    ):
        path = Path(folder) / "out"
        writer.write_segments(path, segments, line)
        return path.read_bytes()


def native_rows() -> ModuleType:
    """The C rows, or a skip where they were not built (tests/test_native.py insists on them)."""
    return pytest.importorskip("features.create_export.writers._rows_native")


def only_file(written: list[WrittenFile], path: Path, items: int, skipped: int = 0) -> None:
    assert written == [WrittenFile(path=path, items=items, skipped=skipped)]
    assert sorted(path.parent.iterdir()) == [path]


# --- JSON -------------------------------------------------------------------------------------------


def refuse_constant(name: str) -> None:
    raise AssertionError(f"JSON holds {name}")


def test_json_reads_back_with_exact_frames_and_record_timecodes(
    tmp_path: Path, segments: list[Segment], line: Timeline
) -> None:
    path = tmp_path / "out.json"
    only_file(json_writer.write_segments(path, segments, line), path, len(segments))
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    document = json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    rate = line.rate
    expected_rate = str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"
    assert {key: document[key] for key in ("repoGuid", "fullPath", "dataType", "frameRate", "dropFrame")} == {
        "repoGuid": "demo-repo", "fullPath": "/demo/interview.mov", "dataType": "comments",
        "frameRate": expected_rate, "dropFrame": line.drop_frame,
    }  # fmt: skip
    assert len(document["segments"]) == len(segments)
    for item, segment in zip(document["segments"], by_start(segments), strict=True):
        check_json_segment(item, segment, line)


def check_json_segment(item: dict, segment: Segment, line: Timeline) -> None:
    start_frame, end_frame = exact_frame(segment.start, line.rate), exact_frame(segment.end, line.rate)
    assert (item["id"], item["sdnaEventType"], item["eventValue"]) == (segment.id, segment.event_type, segment.value)
    assert (item["start"], item["end"], item["startFrame"], item["endFrame"]) == (
        segment.start, segment.end, start_frame, end_frame,
    )  # fmt: skip
    for field, frame in (("startTimecode", start_frame), ("endTimecode", end_frame)):
        assert (";" in item[field]) == line.drop_frame
        assert label_to_frame(item[field], line.rate, line.drop_frame) == line.start_frame + frame
    optional = {"confidenceScore": segment.confidence, "source": segment.source, "positions": segment.positions}
    for field, value in optional.items():
        assert item.get(field) == value
        assert (field in item) == (value is not None)


def test_json_keeps_non_ascii_as_is(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    json_writer.write_segments(path, hostile_segments(), timeline())
    text = path.read_text(encoding="utf-8")
    for value in ("日本語のテキストと中文", "שלום עולם", "👩‍👩‍👧"):
        assert value in text
    assert "\\u65e5" not in text


def test_json_of_nothing_is_an_empty_list(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    json_writer.write_segments(path, [], timeline())
    assert json.loads(path.read_text(encoding="utf-8"))["segments"] == []


def test_json_positions_of_any_type_are_written(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    positions = [{"x": 1, "y": 2.5}, [3, 4], "label"]
    segment = Segment(id="p", event_type="face", value="v", start=1.0, end=2.0, positions=positions)
    json_writer.write_segments(path, [segment], timeline())
    assert json.loads(path.read_text(encoding="utf-8"))["segments"][0]["positions"] == positions


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    seconds=st.floats(min_value=0, max_value=86_000, allow_nan=False)
    | st.integers(0, 86_000_000).map(lambda ms: ms / 1000),
    length=st.floats(min_value=0, max_value=60, allow_nan=False),
)
def test_json_frame_is_the_exact_frame_for_any_time(mode: tuple[Fraction, bool], seconds: float, length: float) -> None:
    rate, drop_frame = mode
    line = timeline(rate=rate, drop_frame=drop_frame, start_frame=label_to_frame("00:59:00:00", rate, drop_frame))
    segment = Segment(id="x", event_type="label", value="v", start=seconds, end=seconds + length)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.json"
        json_writer.write_segments(path, [segment], line)
        item = json.loads(path.read_text(encoding="utf-8"))["segments"][0]
    check_json_segment(item, segment, line)


def test_json_uses_the_native_rows(tmp_path: Path) -> None:
    native = native_rows()
    assert json_writer._rows_native is native
    with mock.patch.object(native, "json_items", wraps=native.json_items) as json_items:
        json_writer.write_segments(tmp_path / "out.json", hostile_segments(), timeline())
    assert json_items.call_count == 1


@settings(max_examples=300, deadline=None)
@given(segments=SEGMENTS, mode=st.sampled_from(MODES))
def test_json_native_rows_are_the_python_rows(segments: list[Segment], mode: tuple[Fraction, bool]) -> None:
    native_rows()
    line = timeline(rate=mode[0], drop_frame=mode[1], start_frame=86_400)
    assert written_by(json_writer, segments, line, native=True) == written_by(json_writer, segments, line, native=False)


@settings(max_examples=100, deadline=None)
@given(value=ANY_FLOAT, scale=st.integers(-30, 30))
def test_json_native_floats_are_orjson_floats(value: float, scale: int) -> None:
    """Every float as `start` (one-digit and full-precision decimals at every scale too)."""
    native_rows()
    values = [value, abs(value), round(value, 3) * 10.0**scale, 10.0**scale, -(10.0**scale)]
    segments = [Segment(id="f", event_type="t", value="v", start=0.0, end=0.0, confidence=number) for number in values]
    line = timeline()
    assert written_by(json_writer, segments, line, native=True) == written_by(json_writer, segments, line, native=False)


class Text(str):
    """A str subclass: the C rows leave such an item to the Python path."""


def test_json_native_rows_across_chunks_and_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    native_rows()
    monkeypatch.setattr(json_writer, "CHUNK", 7)
    unusual = [
        Segment(id="u64", event_type="t", value="v", start=4e17, end=5e17),  # frames past 2**63
        Segment(id="int", event_type="t", value="v", start=3, end=4, confidence=True),  # type: ignore[arg-type]
        Segment(id=Text("sub"), event_type="t", value=Text("class"), start=1.0, end=2.0),
        Segment(id="exp", event_type="t", value="v", start=1e-05, end=1e16, confidence=float("nan")),
        Segment(id="pos", event_type="t", value="v", start=1.0, end=1.0, positions=[{"x": 1}, "y"]),
        Segment(id="zero", event_type="t", value="v", start=-0.0, end=0.0, confidence=-0.0, source=""),
    ]
    segments = [*hostile_segments(), *many_segments(40), *unusual]
    line = timeline(start_frame=86_400)
    assert written_by(json_writer, segments, line, native=True) == written_by(json_writer, segments, line, native=False)


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_json_refuses_a_lone_surrogate_either_way(tmp_path: Path, native: bool) -> None:
    if native:
        native_rows()
    segment = Segment(id="s", event_type="t", value="half \ud800 a pair", start=1.0, end=2.0)
    with (
        mock.patch.object(json_writer, "_rows_native", json_writer._rows_native if native else None),
        pytest.raises(TypeError, match="surrogates not allowed"),
    ):
        json_writer.write_segments(tmp_path / "out.json", [segment], timeline())


# --- CSV --------------------------------------------------------------------------------------------


def unguard(cell: str, original: str) -> str:
    """The cell as the original text: the writer's `'` comes off only where a guard was due."""
    if original.startswith(FORMULA_STARTS):
        assert cell.startswith("'"), cell
        return cell[1:]
    return cell


def plain_decimal(cell: str, value: float) -> None:
    assert re.fullmatch(r"\d+(\.\d+)?", cell), cell
    assert float(cell) == value


def test_csv_round_trips_every_value_with_a_formula_guard(tmp_path: Path, segments: list[Segment]) -> None:
    path = tmp_path / "out.csv"
    only_file(csv_writer.write_segments(path, segments, timeline()), path, len(segments))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid,sdnaEventType,eventValue,start,end,confidenceScore,source\r\n")
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\xef\xbb\xbf") == 1 + sum(segment.value.count("\ufeff") for segment in segments)
    with path.open(encoding="utf-8-sig", newline="") as stream:
        rows = list(csv.reader(stream, strict=True))
    assert rows[0] == CSV_HEADER
    assert len(rows) == len(segments) + 1
    for row, segment in zip(rows[1:], by_start(segments), strict=True):
        assert len(row) == len(CSV_HEADER)
        for cell in (row[0], row[1], row[2], row[6]):
            assert not cell.startswith(FORMULA_STARTS), cell
        assert unguard(row[0], segment.id) == segment.id
        assert unguard(row[1], segment.event_type) == segment.event_type
        assert unguard(row[2], segment.value) == segment.value
        plain_decimal(row[3], segment.start)
        plain_decimal(row[4], segment.end)
        assert row[5] == "" if segment.confidence is None else float(row[5]) == segment.confidence
        assert row[6] == (segment.source or "")


def test_csv_guards_formulas_and_keeps_other_text(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    values = ["=1+1", "+1", "-1", "@SUM(1)", "\tx", "\rx", "a=1", "'quoted", " =spaced"]
    segments = [Segment(id=f"{i}", event_type="t", value=v, start=i, end=i) for i, v in enumerate(values)]
    csv_writer.write_segments(path, segments, timeline())
    with path.open(encoding="utf-8-sig", newline="") as stream:
        cells = [row[2] for row in list(csv.reader(stream))[1:]]
    assert cells == ["'=1+1", "'+1", "'-1", "'@SUM(1)", "'\tx", "'\rx", "a=1", "'quoted", " =spaced"]


def test_csv_numbers_never_use_exponents(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    segment = Segment(id="n", event_type="t", value="v", start=0.00001, end=12345678.5, confidence=1e-7)
    csv_writer.write_segments(path, [segment], timeline())
    with path.open(encoding="utf-8-sig", newline="") as stream:
        row = list(csv.reader(stream))[1]
    assert row[3:6] == ["0.00001", "12345678.5", "0.0000001"]


def test_csv_uses_the_native_rows(tmp_path: Path) -> None:
    native = native_rows()
    assert csv_writer._rows_native is native
    with mock.patch.object(native, "csv_rows", wraps=native.csv_rows) as csv_rows:
        csv_writer.write_segments(tmp_path / "out.csv", hostile_segments(), timeline())
    assert csv_rows.call_count == 1


@settings(max_examples=300, deadline=None)
@given(segments=SEGMENTS)
def test_csv_native_rows_are_the_python_rows(segments: list[Segment]) -> None:
    native_rows()
    line = timeline()
    assert written_by(csv_writer, segments, line, native=True) == written_by(csv_writer, segments, line, native=False)


@settings(max_examples=100, deadline=None)
@given(value=ANY_FLOAT, scale=st.integers(-30, 30))
def test_csv_native_numbers_are_plain_numbers(value: float, scale: int) -> None:
    native_rows()
    values = [value, abs(value), round(value, 3) * 10.0**scale, 10.0**scale, -(10.0**scale)]
    segments = [Segment(id="f", event_type="t", value="v", start=number, end=number) for number in values]
    line = timeline()
    assert written_by(csv_writer, segments, line, native=True) == written_by(csv_writer, segments, line, native=False)


def test_csv_native_rows_across_chunks_and_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    native_rows()
    monkeypatch.setattr(csv_writer, "CHUNK", 7)
    unusual = [
        Segment(id="int", event_type="t", value="v", start=3, end=4, confidence=True),  # type: ignore[arg-type]
        Segment(id=Text("=sub"), event_type="t", value=Text('class, "quoted"'), start=1.0, end=2.0),
        Segment(id="exp", event_type="t", value="v", start=1e-05, end=1e16, confidence=1e-7),
        Segment(id="zero", event_type="t", value="", start=-0.0, end=0.0, confidence=-0.0, source=""),
        Segment(id="@", event_type="\r\n", value='"', start=1.5, end=2.5, source="-,"),
    ]
    segments = [*hostile_segments(), *many_segments(40), *unusual]
    line = timeline()
    assert written_by(csv_writer, segments, line, native=True) == written_by(csv_writer, segments, line, native=False)


def test_native_rows_read_slots_only_of_the_segments_own_class() -> None:
    """Another class's slot descriptors set on a class: their offsets are outside its instances, so the
    rows go through getattr, which refuses them, instead of reading past the objects."""
    rows = native_rows()
    names = ("id", "event_type", "value", "start", "end", "confidence", "source", "positions")
    borrowed = type("Borrowed", (), {name: Segment.__dict__[name] for name in names})
    segments = [borrowed() for _ in range(20)]
    columns = ([1] * 20, [2] * 20, ["a"] * 20, ["b"] * 20)
    with pytest.raises(TypeError, match="doesn't apply to a 'Borrowed' object"):
        rows.csv_rows(segments, 0, 20, lambda index: b"")
    with pytest.raises(TypeError, match="doesn't apply to a 'Borrowed' object"):
        rows.json_items(segments, *columns, 0, 20, lambda index: b"")


def test_native_rows_refuse_lists_that_shrink_while_they_render() -> None:
    """The fallback (Python) emptying the segments or a column: RuntimeError, not a read past the list."""
    rows = native_rows()

    def chunk_of(count: int) -> tuple[list[Segment], list[list]]:
        # Every fourth segment has positions (JSON) and an exponent time (CSV): the fallback renders it.
        segments = [
            Segment(
                id="s",
                event_type="t",
                value="v",
                start=1e-7 if i % 4 == 0 else 1.0,
                end=2.0,
                positions=[1] if i % 4 == 0 else None,
            )
            for i in range(count)
        ]
        return segments, [[1] * count, [2] * count, ["a"] * count, ["b"] * count]

    for emptied in range(5):  # the segments, then each column
        segments, columns = chunk_of(40)
        lists = [segments, *columns]
        with pytest.raises(RuntimeError, match="changed size"):
            rows.json_items(segments, *columns, 0, 40, lambda index, _l=lists[emptied]: _l.clear() or b"{}")
    segments, _ = chunk_of(40)
    with pytest.raises(RuntimeError, match="changed size"):
        rows.csv_rows(segments, 0, 40, lambda index: segments.clear() or b"")
    # A fallback that leaves the lists whole changes nothing.
    segments, columns = chunk_of(40)
    assert rows.json_items(segments, *columns, 0, 40, lambda index: b"{}").count(b"{}") == 10


def test_native_rows_of_an_empty_chunk_are_empty() -> None:
    """No rows: no bytes (and, under UBSan, no memcpy from the empty plan's NULL buffer)."""
    rows = native_rows()
    segments = [Segment(id="s", event_type="t", value="v", start=1.0, end=2.0)]
    assert rows.csv_rows(segments, 1, 0, lambda index: b"") == b""
    assert rows.json_items(segments, [1], [2], ["a"], ["b"], 0, 0, lambda index: b"") == b""


def test_csv_python_path_is_the_text_writer_it_replaced(tmp_path: Path) -> None:
    """The binary file with its own BOM holds what `csv.writer` on a `utf-8-sig` text file wrote."""
    segments = [*hostile_segments(), *many_segments(2_500)]
    path = tmp_path / "before.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(csv_writer.HEADER)
        writer.writerows(csv_writer._row(segment) for segment in by_start(segments))
    assert written_by(csv_writer, segments, timeline(), native=False) == path.read_bytes()


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_csv_refuses_a_lone_surrogate_either_way(tmp_path: Path, native: bool) -> None:
    if native:
        native_rows()
    segment = Segment(id="s", event_type="t", value="half \udfff a pair", start=1.0, end=2.0)
    with (
        mock.patch.object(csv_writer, "_rows_native", csv_writer._rows_native if native else None),
        pytest.raises(UnicodeEncodeError, match="surrogates not allowed"),
    ):
        csv_writer.write_segments(tmp_path / "out.csv", [segment], timeline())


# --- SRT --------------------------------------------------------------------------------------------


def milliseconds(groups: Sequence[str]) -> int:
    hours, minutes, seconds, millis = (int(group) for group in groups)
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def read_srt_strictly(text: str) -> list[tuple[int, int, list[str]]]:
    """Cues as (start ms, end ms, lines), refusing what lenient parsers let through."""
    assert "\r" not in text
    assert text.endswith("\n\n")
    assert not text.endswith("\n\n\n")
    cues = []
    for number, block in enumerate(text[:-2].split("\n\n"), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number), block
        timing = SRT_TIMING.fullmatch(lines[1])
        assert timing, block
        start, end = milliseconds(timing.groups()[:4]), milliseconds(timing.groups()[4:])
        assert end > start, block
        text_lines = lines[2:]
        assert text_lines, block
        for text_line in text_lines:
            assert text_line.strip(), block
            assert "-->" not in text_line, block
            assert not CONTROL.search(text_line), block
        cues.append((start, end, text_lines))
    return cues


def check_cues(cues: list[tuple[int, int, list[str]]], segments: list[Segment], rate: Fraction) -> None:
    """One cue per segment with text, in start order (WebVTT keeps overlaps)."""
    expected = [segment for segment in by_start(segments) if has_text(segment.value)]
    assert len(cues) == len(expected)
    for (start, end, lines), segment in zip(cues, expected, strict=True):
        assert (start, end) == expected_cue_ms(segment, rate)
        assert compact("".join(lines)) == compact(segment.value)


def merged_intervals(intervals: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def check_srt_layout(cues: list[tuple[int, int, list[str]]], segments: Sequence[Segment], rate: Fraction) -> None:
    """Issue 14's SRT layout: cues in time order that never overlap, none cutting through a segment,
    each showing exactly the segments active in it (one line each, in start order), and together
    covering every moment some segment with text covers: so every segment's text is in every cue its
    range covers."""
    spans = [(*expected_cue_ms(segment, rate), compact(segment.value)) for segment in by_start(segments)]
    spans = [span for span in spans if span[2]]
    starts = [start for start, _, _ in spans]
    for (_, end, _), (start, _, _) in itertools.pairwise(cues):
        assert end <= start, "cues overlap"
    live: list[tuple[int, int, str]] = []
    begun = 0
    for start, end, lines in cues:
        while begun < len(spans) and spans[begun][0] <= start:
            live.append(spans[begun])
            begun += 1
        live = [span for span in live if span[1] > start]
        assert all(span[1] >= end for span in live), "a segment ends inside a cue"
        assert bisect.bisect_right(starts, start) == bisect.bisect_left(starts, end), "a segment starts inside a cue"
        assert [compact(line) for line in lines] == [text for _, _, text in live]
    covered = merged_intervals([(start, end) for start, end, _ in cues])
    assert covered == merged_intervals([(start, end) for start, end, _ in spans])


def test_srt_reads_back_strictly_and_with_srt(tmp_path: Path, segments: list[Segment], line: Timeline) -> None:
    path = tmp_path / "out.srt"
    skipped = sum(not has_text(segment.value) for segment in segments)
    written = srt_writer.write_segments(path, segments, line)
    text = path.read_text(encoding="utf-8")
    cues = read_srt_strictly(text)
    only_file(written, path, len(cues), skipped)
    check_srt_layout(cues, segments, line.rate)
    parsed = list(srt.parse(text))
    assert [subtitle.index for subtitle in parsed] == list(range(1, len(cues) + 1))
    for subtitle, (start, end, lines) in zip(parsed, cues, strict=True):
        assert subtitle.start.total_seconds() * 1000 == pytest.approx(start, abs=0.001)
        assert subtitle.end.total_seconds() * 1000 == pytest.approx(end, abs=0.001)
        assert subtitle.content == "\n".join(lines)


def test_srt_segments_that_never_overlap_keep_one_cue_each(tmp_path: Path) -> None:
    path = tmp_path / "out.srt"
    segments = [
        Segment(id=f"s{i}", event_type="t", value=f"cue {i}", start=i * 2.0, end=i * 2.0 + 1.5) for i in range(5)
    ]
    srt_writer.write_segments(path, segments, timeline())
    cues = read_srt_strictly(path.read_text(encoding="utf-8"))
    assert cues == [(i * 2000, i * 2000 + 1500, [f"cue {i}"]) for i in range(5)]


def test_srt_overlapping_segments_become_consecutive_cues(tmp_path: Path) -> None:
    path = tmp_path / "out.srt"
    segments = [
        Segment(id="a", event_type="t", value="long", start=0.0, end=10.0),
        Segment(id="b", event_type="t", value="middle\ntwo lines", start=2.0, end=6.0),
        Segment(id="c", event_type="t", value="same start", start=2.0, end=4.0),
        Segment(id="d", event_type="t", value="after a gap", start=12.0, end=13.0),
    ]
    written = srt_writer.write_segments(path, segments, timeline())
    cues = read_srt_strictly(path.read_text(encoding="utf-8"))
    assert cues == [
        (0, 2000, ["long"]),
        (2000, 4000, ["long", "middle two lines", "same start"]),
        (4000, 6000, ["long", "middle two lines"]),
        (6000, 10000, ["long"]),
        (12000, 13000, ["after a gap"]),
    ]
    assert written[0].items == 5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 12), st.sampled_from(["a", "b c", "", "x\ny", "-->"])),
        max_size=25,
    )
)
def test_srt_layout_holds_for_any_overlaps(spans: list[tuple[int, int, str]]) -> None:
    segments = [
        Segment(
            id=f"s{i:02d}",
            event_type="t",
            value=f"{value} {i}" if value else "",
            start=start / 4,
            end=(start + length) / 4,
        )
        for i, (start, length, value) in enumerate(spans)
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.srt"
        written = srt_writer.write_segments(path, segments, timeline())
        text = path.read_text(encoding="utf-8")
    cues = read_srt_strictly(text) if text else []
    assert written[0].items == len(cues) == len(list(srt.parse(text)))
    check_srt_layout(cues, segments, timeline().rate)


def test_srt_cleans_hostile_text(tmp_path: Path) -> None:
    path = tmp_path / "out.srt"
    srt_writer.write_segments(path, hostile_segments(), timeline())
    contents = [subtitle.content for subtitle in srt.parse(path.read_text(encoding="utf-8"))]
    assert "Line one Line two Line three after blank lines" in contents  # one line per segment
    assert "An arrow -> inside the text" in contents
    assert "padded with spaces" in contents
    assert "zero length" in contents
    assert "" not in contents


@pytest.mark.parametrize(
    ("rate", "frame_ms"),
    [(Fraction(24000, 1001), 42), (Fraction(25), 40), (Fraction(30000, 1001), 33), (Fraction(60), 17)],
)
def test_srt_zero_length_cues_last_one_frame(tmp_path: Path, rate: Fraction, frame_ms: int) -> None:
    path = tmp_path / "out.srt"
    segments = [
        Segment(id="a", event_type="t", value="zero", start=5.0, end=5.0),
        Segment(id="b", event_type="t", value="sub-millisecond", start=7.0, end=7.0004),
    ]
    srt_writer.write_segments(path, segments, timeline(rate=rate))
    cues = read_srt_strictly(path.read_text(encoding="utf-8"))
    assert [(start, end) for start, end, _ in cues] == [(5000, 5000 + frame_ms), (7000, 7000 + frame_ms)]


def test_srt_arrows_of_any_length_are_broken(tmp_path: Path) -> None:
    path = tmp_path / "out.srt"
    segment = Segment(id="a", event_type="t", value="a ---> b ----> c -->> d", start=1, end=2)
    srt_writer.write_segments(path, [segment], timeline())
    (cue,) = read_srt_strictly(path.read_text(encoding="utf-8"))
    assert cue[2] == ["a -> b -> c ->> d"]


# --- SRT: the C cue loop ----------------------------------------------------------------------------

NATIVE = srt_writer._srt_native  # the module srt.py writes with; None where it is not built
needs_native = pytest.mark.skipif(NATIVE is None, reason="the C extension writers._srt_native is not built")
# Lines as `_shown_line` makes them, and the ones it never makes but the C must copy as they are.
SRT_LINES = st.one_of(
    st.sampled_from([b"", b"\n", b"a\n", "\u00e9 -> \u00fc\n".encode(), "\u65e5\u672c <\u200bb>\n".encode()]),
    st.text(max_size=6).map(lambda text: text.encode("utf-8") + b"\n"),
)
# Small times, so starts and ends coincide and neighbours touch; around 100 hours; up to a long long.
SRT_STARTS = st.one_of(st.integers(0, 40), st.integers(359_999_990, 360_000_010), st.integers(0, 2**63 - 2**31))
SRT_LENGTHS = st.one_of(st.integers(1, 12), st.integers(1, 2**30))


class Chunks:
    """A stream that keeps each write."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, chunk: bytes) -> int:
        self.chunks.append(chunk)
        return len(chunk)


def spans_of(spans: Sequence[tuple[int, int, bytes]]) -> tuple[list[int], list[int], list[bytes]]:
    ordered = sorted(spans, key=lambda span: span[0])
    return (
        [start for start, _, _ in ordered],
        [start + length for start, length, _ in ordered],
        [line for _, _, line in ordered],
    )


def python_chunks(starts: list[int], ends: list[int], lines: list[bytes], bytes_per_write: int) -> tuple[int, list]:
    stream = Chunks()
    count = srt_writer.python_write_cues(stream, starts, ends, lines, bytes_per_write)
    # write_in_chunks writes an empty last chunk after a full one; the C leaves out that no-op.
    if len(stream.chunks) > 1 and stream.chunks[-1] == b"":
        stream.chunks.pop()
    return count, stream.chunks


def native_chunks(starts: list[int], ends: list[int], lines: list[bytes], bytes_per_write: int) -> tuple[int, list]:
    stream = Chunks()
    count = NATIVE.write_cues(stream.write, starts, ends, lines, bytes_per_write)
    return count, stream.chunks


def test_srt_writer_uses_the_native_module_when_it_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    native = pytest.importorskip("features.create_export.writers._srt_native", reason="the C extension is not built")
    assert srt_writer._srt_native is native
    calls = []
    write_cues = native.write_cues
    monkeypatch.setattr(native, "write_cues", lambda *args: calls.append(args) or write_cues(*args))
    srt_writer.write_segments(tmp_path / "out.srt", hostile_segments(), timeline())
    assert len(calls) == 1


@needs_native
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(SRT_STARTS, SRT_LENGTHS, SRT_LINES), max_size=30),
    st.one_of(st.integers(1, 200), st.just(srt_writer.BYTES_PER_WRITE)),
)
def test_srt_native_cues_are_the_python_cues(spans: list[tuple[int, int, bytes]], bytes_per_write: int) -> None:
    starts, ends, lines = spans_of(spans)
    assert native_chunks(starts, ends, lines, bytes_per_write) == python_chunks(starts, ends, lines, bytes_per_write)


@needs_native
@pytest.mark.parametrize("bytes_per_write", [1, 997, srt_writer.BYTES_PER_WRITE])
def test_srt_native_writes_many_overlapping_cues_as_python_does(bytes_per_write: int) -> None:
    segments = by_start(many_segments(3_000))
    starts, ends = srt_writer.cue_milliseconds(srt_writer.SegmentTable.of(segments), 40)
    lines = [srt_writer._shown_line(srt_writer.cue_text(segment.value) or "x") for segment in segments]
    assert native_chunks(starts, ends, lines, bytes_per_write) == python_chunks(starts, ends, lines, bytes_per_write)


@needs_native
@pytest.mark.parametrize("name", list(SETS))
def test_srt_file_is_the_same_without_the_native_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: Timeline, name: str
) -> None:
    segments = SETS[name]()
    native = srt_writer.write_segments(tmp_path / "native.srt", segments, line)
    monkeypatch.setattr(srt_writer, "_srt_native", None)
    python = srt_writer.write_segments(tmp_path / "python.srt", segments, line)
    assert (tmp_path / "native.srt").read_bytes() == (tmp_path / "python.srt").read_bytes()
    assert [(file.items, file.skipped) for file in native] == [(file.items, file.skipped) for file in python]


def test_srt_of_nothing_is_one_empty_write() -> None:
    assert python_chunks([], [], [], 10) == (0, [b""])
    if NATIVE is not None:
        assert native_chunks([], [], [], 10) == (0, [b""])


GOOD_CUES = {"starts": [0, 10], "ends": [20, 30], "lines": [b"a\n", b"b\n"], "bytes_per_write": 1}
BAD_CUES = {
    "negative start": ({"starts": [-1, 10]}, ValueError),
    "end before start": ({"ends": [20, 5]}, ValueError),
    "end at start": ({"ends": [0, 30]}, ValueError),
    "starts unsorted": ({"starts": [10, 0]}, ValueError),
    "time past a long long": ({"starts": [0, 2**63], "ends": [20, 2**63 + 1]}, ValueError),
    "float time": ({"starts": [0.0, 10]}, TypeError),
    "None time": ({"ends": [20, None]}, TypeError),
    "str line": ({"lines": [b"a\n", "b\n"]}, TypeError),
    "bytearray line": ({"lines": [b"a\n", bytearray(b"b\n")]}, TypeError),
    "fewer lines": ({"lines": [b"a\n"]}, ValueError),
    "more ends": ({"ends": [20, 30, 40]}, ValueError),
    "starts not a sequence": ({"starts": None}, TypeError),
    "write not callable": ({"write": None}, TypeError),
    "no bytes per write": ({"bytes_per_write": 0}, ValueError),
    "bytes per write a str": ({"bytes_per_write": "1"}, TypeError),
}


def call_native(**changes: object) -> int:
    arguments = {"write": Chunks().write, **GOOD_CUES, **changes}
    return NATIVE.write_cues(*arguments.values())


@needs_native
@pytest.mark.parametrize(("changes", "error"), list(BAD_CUES.values()), ids=list(BAD_CUES))
def test_srt_native_refuses_bad_input(changes: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        call_native(**changes)


def fail_to_write(chunk: bytes) -> None:
    raise OSError("disk full")


@needs_native
def test_srt_native_passes_on_a_failed_write() -> None:
    with pytest.raises(OSError, match="disk full"):
        call_native(write=fail_to_write)


@needs_native
def test_srt_native_leaks_neither_references_nor_memory() -> None:
    line = b"kept\n"
    calls = [
        {"lines": [line, line]},
        {"lines": [line, line], "write": fail_to_write},
        *({"lines": [line, line], **changes} for changes, _ in BAD_CUES.values() if "lines" not in changes),
    ]

    def call_all() -> None:
        for changes in calls:
            with contextlib.suppress(ValueError, TypeError, OSError):
                call_native(**changes)

    # The first calls fill caches (exception types' strings, interned names).
    references_kept, grown = growth_of(call_all, kept=(line,), warm_rounds=1)
    assert references_kept
    assert grown < 1_000, f"{grown} bytes more after 200 rounds"


def growth_of(call_all: Callable[[], None], kept: tuple[object, ...], warm_rounds: int) -> tuple[bool, int]:
    """After `warm_rounds`, 200 more rounds of `call_all`: whether the `kept` objects' reference
    counts are as they were, and how many bytes more are allocated (tracemalloc sees raw allocations)."""
    for _ in range(warm_rounds):
        call_all()
    references = [sys.getrefcount(item) for item in kept]
    tracemalloc.start()
    try:
        call_all()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            call_all()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return [sys.getrefcount(item) for item in kept] == references, grown


# Run in a child whose address space is capped: the shown text, then the chunk, cannot grow.
OUT_OF_MEMORY = """
import resource
from features.create_export.writers._srt_native import write_cues
with open("/proc/self/statm") as statm:
    size = int(statm.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
results = []
for starts, ends, lines in (
    ([0] * 100, list(range(1, 101)), [b"x" * (8 << 20)] * 100),  # 800 MB shown at once
    ([0], [1], [b"x" * (150 << 20)]),  # 150 MB shown, and a chunk as large
):
    try:
        write_cues(lambda chunk: None, starts, ends, lines, 1 << 20)
    except MemoryError:
        results.append("MemoryError")
print(*results, write_cues(lambda chunk: None, [0], [1], [b"after\\n"], 1))
"""


@needs_native
def test_srt_native_raises_memory_error_when_it_cannot_grow() -> None:
    child = subprocess.run(
        [sys.executable, "-c", OUT_OF_MEMORY], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (child.returncode, child.stdout.split()) == (0, ["MemoryError", "MemoryError", "1"]), child.stderr


@needs_native
def test_srt_native_lets_other_threads_run_while_it_builds_a_chunk() -> None:
    # With a switch interval of a minute, another thread runs only where the GIL is given up. The first
    # write wakes the observer; each of the ten 32 MB cues takes milliseconds to build, time enough for
    # it to take the GIL and see that the cues are still being written.
    # One 32 MB span, cut into ten cues by spans with no text.
    starts, ends, lines = [0, *range(1, 10)], [10, *range(2, 11)], [b"x" * (32 << 20) + b"\n", *[b""] * 9]
    writes, seen = writes_seen_by_another_thread(lambda write: NATIVE.write_cues(write, starts, ends, lines, 1))
    assert writes == 10
    assert seen is not None and seen < 10


def writes_seen_by_another_thread(run: Callable[[Callable[[bytes], None]], object]) -> tuple[int, int | None]:
    """`run(write)` with a switch interval of a minute, beside a thread woken by the first write: how
    many writes were made, and how many that thread saw made when it got the GIL (None: never)."""
    written: list[int] = []
    first_write = threading.Event()
    seen: list[int] = []

    def write(chunk: bytes) -> None:
        written.append(len(chunk))
        first_write.set()

    observer = threading.Thread(target=lambda: first_write.wait() and seen.append(len(written)))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(60)
    try:
        observer.start()
        run(write)
    finally:
        sys.setswitchinterval(interval)
        first_write.set()
        observer.join()
    return len(written), seen[0] if seen else None


# --- WebVTT -----------------------------------------------------------------------------------------


def read_vtt_strictly(text: str) -> list[tuple[str | None, int, int, list[str]]]:
    """Cues as (identifier, start ms, end ms, lines); header, escaping, order and ids checked."""
    assert text.startswith("WEBVTT\n\n")
    assert text.endswith("\n\n")
    assert "\r" not in text
    cues: list[tuple[str | None, int, int, list[str]]] = []
    body = text[len("WEBVTT\n\n") : -2]
    for block in body.split("\n\n") if body else []:
        lines = block.split("\n")
        identifier = None if "-->" in lines[0] else lines.pop(0)
        timing = VTT_TIMING.fullmatch(lines[0])
        assert timing, block
        start, end = milliseconds(timing.groups()[:4]), milliseconds(timing.groups()[4:])
        assert end > start, block
        assert not cues or start >= cues[-1][1], "cues out of order"
        for text_line in lines[1:]:
            assert text_line.strip(), block
            assert not re.search("-->|<|>", text_line), block
            assert re.fullmatch(r"([^&]|&(amp|lt|gt);)*", text_line), block
            assert not CONTROL.search(text_line), block
        assert len(lines) > 1, block
        cues.append((identifier, start, end, lines[1:]))
    identifiers = [identifier for identifier, *_ in cues if identifier is not None]
    assert len(identifiers) == len(set(identifiers))
    for identifier in identifiers:
        assert re.fullmatch(r"(?!NOTE|STYLE|REGION)[^\s]((?!-->).)*", identifier), identifier
    return cues


def test_vtt_reads_back_strictly_and_with_webvtt(tmp_path: Path, segments: list[Segment], line: Timeline) -> None:
    path = tmp_path / "out.vtt"
    skipped = sum(not has_text(segment.value) for segment in segments)
    only_file(vtt_writer.write_segments(path, segments, line), path, len(segments) - skipped, skipped)
    cues = read_vtt_strictly(path.read_text(encoding="utf-8"))
    unescaped = [(start, end, [html.unescape(text) for text in lines]) for _, start, end, lines in cues]
    check_cues(unescaped, segments, line.rate)
    captions = webvtt.read(str(path)).captions
    assert len(captions) == len(cues)
    for caption, (identifier, start, end, lines) in zip(captions, cues, strict=True):
        assert caption.identifier == identifier
        read_start, read_end = (milliseconds(re.split("[:.]", time)) for time in (caption.start, caption.end))
        assert (read_start, read_end) == (start, end)
        assert caption.text == "\n".join(lines)


def test_vtt_escapes_markup_and_keeps_ids_unique(tmp_path: Path) -> None:
    path = tmp_path / "out.vtt"
    segments = [
        Segment(id="same", event_type="t", value="Ampersand & <b>tags</b> -> -->", start=1, end=2),
        Segment(id="same", event_type="t", value="second", start=3, end=4),
        Segment(id="NOTE 1", event_type="t", value="third", start=5, end=6),
        Segment(id="a-->b", event_type="t", value="fourth", start=7, end=8),
    ]
    vtt_writer.write_segments(path, segments, timeline())
    cues = read_vtt_strictly(path.read_text(encoding="utf-8"))
    assert cues[0][3] == ["Ampersand &amp; &lt;b&gt;tags&lt;/b&gt; -&gt; -&gt;"]
    assert cues[0][0] == "same"
    assert cues[1][0] is None
    assert cues[2][0] is None
    assert cues[3][0] == "a--b"


def test_vtt_of_nothing_is_a_header(tmp_path: Path) -> None:
    path = tmp_path / "out.vtt"
    vtt_writer.write_segments(path, [], timeline())
    assert path.read_text(encoding="utf-8") == "WEBVTT\n\n"
    assert webvtt.read(str(path)).captions == []


# --- WebVTT: the C cue loop -------------------------------------------------------------------------

VTT_NATIVE = vtt_writer._vtt_native  # the module vtt.py writes with; None where it is not built
needs_vtt_native = pytest.mark.skipif(VTT_NATIVE is None, reason="the C extension writers._vtt_native is not built")
# Ids of any characters; ids a few characters apart, so identifiers repeat and start like keywords.
VTT_IDS = st.one_of(
    st.text(max_size=8),
    st.text(alphabet="NOTESTYLREGIN a.-:_>\u00e9\U0001f600", max_size=7),
    st.sampled_from(["same", "NOTE", "NOTE 1", "STYLE", "REGION", "REGIONS", "Note", "xNOTE", " NOTE", "a-->b", ""]),
)
# Texts with markup, non-ASCII and astral characters, line breaks; the empty text has no cue.
VTT_TEXTS = st.one_of(
    st.just(""),
    st.text(max_size=8),
    st.text(alphabet="&<>a \n\u00e9\u0800\u65e5\U0001f600", max_size=10),
    st.sampled_from(["&amp;", "<b>x</b>", "a -> b", "x" * 300]),
)
# Small times, so labels repeat; around 100 hours; up to a long long (the Python labels have no limit).
VTT_TIMES = st.one_of(st.integers(0, 40), st.integers(359_999_990, 360_000_010), st.integers(0, 2**63 - 1))


def vtt_columns(segments: Sequence[tuple[str, int, int, str]]) -> tuple[list, list, list, list]:
    return tuple(list(column) for column in zip(*segments, strict=True)) if segments else ([], [], [], [])


def python_vtt(stream: Chunks, columns: Sequence[list], bytes_per_write: int) -> int:
    return vtt_writer.python_write_cues(stream, *columns, bytes_per_write)


def native_vtt(stream: Chunks, columns: Sequence[list], bytes_per_write: int) -> int:
    return VTT_NATIVE.write_cues(stream.write, *columns, bytes_per_write)


def vtt_python_chunks(columns: Sequence[list], bytes_per_write: int) -> tuple[int, list[bytes]]:
    stream = Chunks()
    return python_vtt(stream, columns, bytes_per_write), stream.chunks


def vtt_native_chunks(columns: Sequence[list], bytes_per_write: int) -> tuple[int, list[bytes]]:
    stream = Chunks()
    return native_vtt(stream, columns, bytes_per_write), stream.chunks


def test_vtt_writer_uses_the_native_module_when_it_is_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    native = pytest.importorskip("features.create_export.writers._vtt_native", reason="the C extension is not built")
    assert vtt_writer._vtt_native is native
    calls = []
    write_cues = native.write_cues
    monkeypatch.setattr(native, "write_cues", lambda *args: calls.append(args) or write_cues(*args))
    monkeypatch.setattr(vtt_writer, "python_write_cues", None)  # never called
    vtt_writer.write_segments(tmp_path / "out.vtt", hostile_segments(), timeline())
    assert len(calls) == 1


@needs_vtt_native
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(VTT_IDS, VTT_TIMES, VTT_TIMES, VTT_TEXTS), max_size=30),
    st.one_of(st.integers(1, 200), st.just(vtt_writer.BYTES_PER_WRITE)),
)
def test_vtt_native_cues_are_the_python_cues(segments: list[tuple[str, int, int, str]], bytes_per_write: int) -> None:
    columns = vtt_columns(segments)
    assert vtt_native_chunks(columns, bytes_per_write) == vtt_python_chunks(columns, bytes_per_write)


@needs_vtt_native
@pytest.mark.parametrize("bytes_per_write", [1, 997, vtt_writer.BYTES_PER_WRITE])
def test_vtt_native_writes_batches_of_cues_as_python_does(bytes_per_write: int) -> None:
    # More cues than one batch of the C (8,192), ids repeating across batches, every tenth text empty.
    segments = by_start(many_segments(20_000))
    table = vtt_writer.SegmentTable.of(segments)
    starts, ends = vtt_writer.cue_milliseconds(table, 40)
    ids = [f"{segment.id[:4]}{index % 9_000}" for index, segment in enumerate(segments)]
    texts = ["" if index % 10 == 0 else text for index, text in enumerate(vtt_writer.cue_texts_of(table))]
    columns = (ids, starts, ends, texts)
    assert vtt_native_chunks(columns, bytes_per_write) == vtt_python_chunks(columns, bytes_per_write)


@needs_vtt_native
@pytest.mark.parametrize("name", list(SETS))
def test_vtt_file_is_the_same_without_the_native_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: Timeline, name: str
) -> None:
    segments = SETS[name]()
    native = vtt_writer.write_segments(tmp_path / "native.vtt", segments, line)
    monkeypatch.setattr(vtt_writer, "_vtt_native", None)
    python = vtt_writer.write_segments(tmp_path / "python.vtt", segments, line)
    assert (tmp_path / "native.vtt").read_bytes() == (tmp_path / "python.vtt").read_bytes()
    assert [(file.items, file.skipped) for file in native] == [(file.items, file.skipped) for file in python]


def test_vtt_of_no_cues_is_one_empty_write() -> None:
    for columns in (([], [], [], []), (["a"], [0], [1], [""])):
        assert vtt_python_chunks(columns, 10) == (0, [b""])
        if VTT_NATIVE is not None:
            assert vtt_native_chunks(columns, 10) == (0, [b""])


@needs_vtt_native
@pytest.mark.parametrize("bytes_per_write", [1, 60, vtt_writer.BYTES_PER_WRITE])
def test_vtt_native_fails_on_a_lone_surrogate_as_python_does(bytes_per_write: int) -> None:
    # The same error (the escaped text's position), after the same chunks: the one being made is lost.
    columns = (["a", "b", "c"], [0, 1, 2], [1, 2, 3], ["one & two", "x<\ud800y", "three"])
    outcomes = []
    for write_cues in (native_vtt, python_vtt):
        stream = Chunks()
        with pytest.raises(UnicodeEncodeError) as raised:
            write_cues(stream, columns, bytes_per_write)
        outcomes.append((raised.value.args, stream.chunks))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == ("utf-8", "x&lt;\ud800y", 5, 6, "surrogates not allowed")


def test_vtt_identifiers_keep_only_their_ascii_characters() -> None:
    # A lone surrogate or any non-ASCII letter in an id is dropped, never encoded.
    columns = (["\ud800a\u00e9\u212a1", "\U0001f600"], [0, 1], [1, 2], ["x", "y"])
    assert vtt_python_chunks(columns, 1 << 20) == (2, [b"a1\n00:00:00.000 --> 00:00:00.001\nx\n\n" + VTT_NO_ID])
    if VTT_NATIVE is not None:
        assert vtt_native_chunks(columns, 1 << 20) == vtt_python_chunks(columns, 1 << 20)


VTT_NO_ID = b"00:00:00.001 --> 00:00:00.002\ny\n\n"
GOOD_VTT = {"ids": ["a", "b"], "starts": [0, 10], "ends": [20, 30], "texts": ["x", "y"], "bytes_per_write": 1}
BAD_VTT = {
    "negative start": ({"starts": [-1, 10]}, ValueError),
    "time past a long long": ({"ends": [20, 2**63]}, ValueError),
    "float time": ({"starts": [0.0, 10]}, TypeError),
    "None time": ({"ends": [20, None]}, TypeError),
    "bytes text": ({"texts": ["x", b"y"]}, TypeError),
    "None id": ({"ids": ["a", None]}, TypeError),
    "bytes id": ({"ids": [b"a", "b"]}, TypeError),
    "fewer texts": ({"texts": ["x"]}, ValueError),
    "more ends": ({"ends": [20, 30, 40]}, ValueError),
    "fewer ids": ({"ids": ["a"]}, ValueError),
    "starts not a sequence": ({"starts": None}, TypeError),
    "texts an int": ({"texts": 5}, TypeError),
    "write not callable": ({"write": None}, TypeError),
    "no bytes per write": ({"bytes_per_write": 0}, ValueError),
    "bytes per write a str": ({"bytes_per_write": "1"}, TypeError),
}


def call_vtt_native(**changes: object) -> int:
    arguments = {"write": Chunks().write, **GOOD_VTT, **changes}
    return VTT_NATIVE.write_cues(*arguments.values())


@needs_vtt_native
@pytest.mark.parametrize(("changes", "error"), list(BAD_VTT.values()), ids=list(BAD_VTT))
def test_vtt_native_refuses_bad_input(changes: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        call_vtt_native(**changes)


@needs_vtt_native
def test_vtt_native_passes_on_a_failed_write() -> None:
    with pytest.raises(OSError, match="disk full"):
        call_vtt_native(write=fail_to_write)


@needs_vtt_native
def test_vtt_native_survives_columns_changed_by_write() -> None:
    # The texts of the batch being built are its own references; the next batch sees the change.
    texts = [f"text {index}" for index in range(10_000)]
    with pytest.raises(ValueError, match="texts has 0 items"):
        VTT_NATIVE.write_cues(lambda chunk: texts.clear(), ["a"] * 10_000, [0] * 10_000, [1] * 10_000, texts, 1)


@needs_vtt_native
def test_vtt_native_leaks_neither_references_nor_memory() -> None:
    text, identifier = "kept & <shown>", "kept-id"
    good = {"ids": [identifier, identifier], "texts": [text, text]}
    calls = [
        good,
        {**good, "write": fail_to_write},
        {**good, "texts": [text, "\ud800"]},
        *({**good, **changes} for changes, _ in BAD_VTT.values() if "texts" not in changes and "ids" not in changes),
    ]

    def call_all() -> None:
        for changes in calls:
            with contextlib.suppress(ValueError, TypeError, OSError):
                call_vtt_native(**changes)

    # The first calls fill caches (exception types' strings, interned names), and a few hundred rounds
    # the free list of tuples (the lone surrogate's error, made as Python makes it, uses a few).
    references_kept, grown = growth_of(call_all, kept=(text, identifier), warm_rounds=500)
    assert references_kept
    assert grown < 1_000, f"{grown} bytes more after 200 rounds"


# Run in a child whose address space is capped: the chunk cannot grow to hold the cue.
VTT_OUT_OF_MEMORY = """
import resource
from features.create_export.writers._vtt_native import write_cues
with open("/proc/self/statm") as statm:
    size = int(statm.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
text = "&" * (60 << 20)  # 60 MB, 300 MB escaped
try:
    write_cues(lambda chunk: None, ["a"], [0], [1], [text], 1 << 20)
except MemoryError:
    print("MemoryError")
del text
print(write_cues(lambda chunk: None, ["a"], [0], [1], ["after"], 1))
"""


@needs_vtt_native
def test_vtt_native_raises_memory_error_when_it_cannot_grow() -> None:
    child = subprocess.run(
        [sys.executable, "-c", VTT_OUT_OF_MEMORY], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (child.returncode, child.stdout.split()) == (0, ["MemoryError", "1"]), child.stderr


@needs_vtt_native
def test_vtt_native_lets_other_threads_run_while_it_builds_a_chunk() -> None:
    # As for SRT: with a switch interval of a minute, another thread runs only where the GIL is given
    # up. Each of the ten 16 MB cues takes milliseconds to build, time enough for the observer, woken by
    # the first write, to take the GIL and see that the cues are still being written.
    text = "\u00e9" * (8 << 20)
    ids = [str(index) for index in range(10)]
    writes, seen = writes_seen_by_another_thread(
        lambda write: VTT_NATIVE.write_cues(write, ids, [0] * 10, [1] * 10, [text] * 10, 1)
    )
    assert writes == 11  # ten cues, then the empty last chunk
    assert seen is not None and seen < 11


# --- Avid marker list -------------------------------------------------------------------------------

AVID_COMMENT_LIMIT = 240  # the module docstring's promise


def read_avid(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert b"\r" not in raw
    assert raw.endswith(b"\n") or raw == b""
    return [row.split("\t") for row in raw.decode("utf-8").split("\n")[:-1]]


def test_avid_markers_land_on_the_exact_record_frame(tmp_path: Path, segments: list[Segment], line: Timeline) -> None:
    path = tmp_path / "out.txt"
    only_file(avid_writer.write_segments(path, segments, line), path, len(segments))
    rows = read_avid(path)
    assert len(rows) == len(segments)
    label = re.compile(r"\d{2}:[0-5]\d:[0-5]\d" + (";" if line.drop_frame else ":") + r"\d{2}")
    for row, segment in zip(rows, by_start(segments), strict=True):
        assert len(row) == 6, row
        user, timecode, track, colour, comment, duration = row
        start_frame, end_frame = exact_frame(segment.start, line.rate), exact_frame(segment.end, line.rate)
        assert (user, track, colour) == ("AI Spark", "V1", "yellow")
        assert label.fullmatch(timecode), timecode
        assert label_to_frame(timecode, line.rate, line.drop_frame) == line.start_frame + start_frame
        assert int(duration) == max(1, end_frame - start_frame)
        assert not CONTROL.search(comment)
        assert "\t" not in comment
        assert len(comment) <= AVID_COMMENT_LIMIT
        if len(segment.value) < AVID_COMMENT_LIMIT:
            assert squeeze(comment) == squeeze(segment.value)


@pytest.mark.parametrize("data_type", list(AVID_COLOURS))
def test_avid_colour_follows_the_data_type(tmp_path: Path, data_type: str) -> None:
    path = tmp_path / "out.txt"
    avid_writer.write_segments(path, hostile_segments(), timeline(data_type=data_type))
    assert {row[3] for row in read_avid(path)} == {AVID_COLOURS[data_type]}


def test_avid_long_comments_are_cut_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    segment = Segment(id="l", event_type="t", value="word\t" * 200 + "\nend", start=1, end=1)
    avid_writer.write_segments(path, [segment], timeline())
    (row,) = read_avid(path)
    assert row[4].startswith("word word word")
    assert len(row[4]) <= AVID_COMMENT_LIMIT
    assert row[5] == "1"


# --- every writer -----------------------------------------------------------------------------------

WRITERS: dict[str, Callable[[Path, Sequence[Segment], Timeline], list[WrittenFile]]] = {
    "json": json_writer.write_segments,
    "csv": csv_writer.write_segments,
    "srt": srt_writer.write_segments,
    "vtt": vtt_writer.write_segments,
    "txt": avid_writer.write_segments,
}


@pytest.mark.parametrize("extension", list(WRITERS))
def test_writers_sort_by_start_then_id(tmp_path: Path, extension: str) -> None:
    ordered_path, shuffled_path = tmp_path / f"a.{extension}", tmp_path / f"b.{extension}"
    segments = [
        Segment(id=f"s{index}", event_type="t", value=f"v{index}", start=float(10 - index // 2), end=20.0)
        for index in range(10)
    ]
    WRITERS[extension](ordered_path, by_start(segments), timeline())
    WRITERS[extension](shuffled_path, segments[::-1], timeline())
    assert ordered_path.read_bytes() == shuffled_path.read_bytes()
    assert ordered_path.read_text(encoding="utf-8").index("v9") < ordered_path.read_text(encoding="utf-8").index("v0")
