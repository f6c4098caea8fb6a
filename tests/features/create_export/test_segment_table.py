"""SegmentTable and the column-wise frame math it uses: the same answers as the per-value forms."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from features.create_export import segment_table
from features.create_export.segment_table import SegmentTable, writing_order
from features.create_export.timecode import (
    SUPPORTED_RATES,
    frame_to_timecode,
    frames_at,
    milliseconds_at,
    seconds_to_frame,
    seconds_to_milliseconds,
    supports_drop_frame,
    timecodes_at,
)
from features.create_export.timeline import Segment


def random_times(count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [round(rng.uniform(0, 14_400), rng.choice([0, 1, 2, 3, 4, 6])) for _ in range(count)]


def frame_halves(rate: Fraction) -> list[float]:
    """Times exactly half a frame past a frame (as floats, and rounded to the millisecond): where
    half-up rounding is decided by the last digit."""
    halves = [float(Fraction(2 * frame + 1, 2) / rate) for frame in range(0, 300_000, 997)]
    return halves + [round(value, 3) for value in halves]


EDGE_TIMES = [0.0, 1e-05, 5e-04, 0.0005, 0.0015, 2.5e-03, 1e-09, 123456.0005, 0.5, 1001 / 48000]


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES), ids=str)
def test_frames_at_is_seconds_to_frame_of_every_time(rate: Fraction) -> None:
    times = random_times(20_000, seed=int(rate * 1000)) + frame_halves(rate) + EDGE_TIMES
    assert frames_at(times, rate) == [seconds_to_frame(value, rate) for value in times]


def test_milliseconds_at_is_seconds_to_milliseconds_of_every_time() -> None:
    halves = [(2 * millis + 1) / 2000 for millis in range(0, 3_000_000, 331)]
    times = random_times(20_000, seed=3) + halves + EDGE_TIMES
    assert milliseconds_at(times) == [seconds_to_milliseconds(value) for value in times]


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES), ids=str)
def test_timecodes_at_is_frame_to_timecode_of_every_frame(rate: Fraction) -> None:
    rng = random.Random(7)
    frames = list(range(0, 40_000, 7)) + [rng.randint(0, 30_000_000) for _ in range(5_000)]
    for drop_frame in (False, True) if supports_drop_frame(rate) else (False,):
        for offset in (0, 86_314, 107_892):
            expected = [frame_to_timecode(offset + frame, rate, drop_frame) for frame in frames]
            assert timecodes_at(frames, rate, drop_frame, offset) == expected


def segments(count: int, seed: int) -> list[Segment]:
    """Segments with many equal starts, so the id decides the order of ties."""
    rng = random.Random(seed)
    return [
        Segment(
            id=f"s-{rng.randint(0, 10 * count):07d}",
            event_type="face",
            value="v",
            start=rng.randint(0, 50) / 4,
            end=99.0,
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("count", [0, 1, 4_999, 5_000, 5_001, 12_345])
def test_the_table_is_in_writing_order_whatever_order_it_was_given(count: int) -> None:
    shuffled = segments(count, seed=count)
    assert SegmentTable(shuffled).segments == sorted(shuffled, key=writing_order)
    nearly = sorted(shuffled, key=lambda segment: segment.start)  # start order, ties not by id
    assert SegmentTable(nearly).segments == sorted(shuffled, key=writing_order)


def test_the_sort_is_done_in_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segment_table, "SORT_STEP", 10)
    given = segments(95, seed=1)
    assert SegmentTable(given).segments == sorted(given, key=writing_order)


def test_a_column_is_computed_once_and_shared() -> None:
    table = SegmentTable(segments(100, seed=2))
    calls = []

    def compute(rows: list[Segment]) -> list[str]:
        calls.append(len(rows))
        return [row.id for row in rows]

    first = table.column(("test", "ids"), compute)
    assert table.column(("test", "ids"), compute) is first
    assert calls == [100]
    assert SegmentTable.of(table) is table
    rate = Fraction(25)
    assert table.start_frames(rate) == [seconds_to_frame(row.start, rate) for row in table]
    assert table.start_timecodes(rate, False, 90_000) == [
        frame_to_timecode(90_000 + seconds_to_frame(row.start, rate), rate, False) for row in table
    ]


def test_clear_lets_every_column_and_segment_go() -> None:
    table = SegmentTable(segments(12_000, seed=5))
    table.start_frames(Fraction(25))
    table.column(("test", "x"), lambda rows: [1] * len(rows))
    table.clear()
    assert len(table) == 0
    assert table.column(("test", "x"), lambda rows: "computed again") == "computed again"
