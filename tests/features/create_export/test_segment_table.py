"""SegmentTable and the column-wise frame math it uses: the same answers as the per-value forms."""

from __future__ import annotations

import math
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


# --- the columns in C (features/create_export/_timecode_native.c) ----------------------------------


def test_the_columns_are_worked_out_in_c_when_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from features.create_export import timecode

    assert timecode._timecode_native is not None, "the extension is not built: make install"
    calls: list[str] = []
    native = timecode._timecode_native
    for name in ("scaled_half_up", "timecodes_at"):
        function = getattr(native, name)
        monkeypatch.setattr(native, name, lambda *args, _f=function, _n=name: calls.append(_n) or _f(*args))
    frames = frames_at([1.0, 2.5], Fraction(25))
    assert timecodes_at(frames, Fraction(25), False) == ["00:00:01:00", "00:00:02:13"]
    assert calls == ["scaled_half_up", "timecodes_at"]


def test_the_c_columns_refuse_a_list_that_shrinks_while_they_read_it() -> None:
    """An item's __index__ or __float__ emptying its list: RuntimeError, not a read past the list."""
    from features.create_export import timecode

    native = timecode._timecode_native
    assert native is not None, "the extension is not built: make install"

    class Emptying:
        def __init__(self, items: list) -> None:
            self.items = items

        def __index__(self) -> int:
            self.items.clear()
            return 1

        def __float__(self) -> float:
            self.items.clear()
            return 1.0

    frames: list = []
    frames += [Emptying(frames), *range(100)]
    with pytest.raises(RuntimeError, match="changed size"):
        native.timecodes_at(frames, 25, 0, 0, ":")
    seconds: list = []
    seconds += [Emptying(seconds), *[1.0] * 100]
    with pytest.raises(RuntimeError, match="changed size"):
        native.scaled_half_up(seconds, 25.0, 1e-6)
    # The last item emptying the list is read whole: nothing past it is read.
    frames = [0, 1]
    frames.append(Emptying(frames))
    assert native.timecodes_at(frames, 25, 0, 0, ":") == ["00:00:00:00", "00:00:00:01", "00:00:00:01"]


@pytest.mark.parametrize("scale", [1000.0, 24000 / 1001, 25.0, 30000 / 1001, 60.0])
def test_c_and_python_round_every_time_alike(scale: float) -> None:
    """Random times over many magnitudes (negative ones too), exact halves, ints, and times past
    64 bits (the C declines them; the Python loop takes them)."""
    from features.create_export.timecode import _scaled_half_up, python_scaled_half_up

    rng = random.Random(int(scale))
    times: list[float] = [rng.uniform(-1, 1) * 10 ** rng.uniform(-9, 14) for _ in range(30_000)]
    times += [(2 * step + 1) / (2 * scale) for step in range(0, 200_000, 13)] + [0, 7, -0.0]

    def exact(value: float) -> int:
        return math.floor(Fraction(value) * Fraction(scale) + Fraction(1, 2))

    assert _scaled_half_up(times, scale, exact) == python_scaled_half_up(times, scale, exact)
    huge = [1.0, 1e300]
    assert _scaled_half_up(huge, scale, exact) == python_scaled_half_up(huge, scale, exact)
    with pytest.raises(OverflowError):
        _scaled_half_up([math.inf], scale, exact)


def test_c_and_python_label_every_frame_alike() -> None:
    from features.create_export.timecode import TimecodeError, python_timecodes_at

    rng = random.Random(11)
    frames = [rng.randint(0, 10 ** rng.randint(1, 12)) for _ in range(20_000)] + [0, 2**53 + 1]
    for rate in SUPPORTED_RATES:
        for drop_frame in (False, True) if supports_drop_frame(rate) else (False,):
            for offset in (0, 107_892, -5):
                kept = [frame for frame in frames if frame + offset >= 0]
                assert timecodes_at(kept, rate, drop_frame, offset) == python_timecodes_at(
                    kept, rate, drop_frame, offset
                )
    with pytest.raises(TimecodeError, match="before 00:00:00:00"):
        timecodes_at([3, 1], Fraction(25), False, offset=-2)
    with pytest.raises(TimecodeError, match="drop frame does not exist"):
        timecodes_at([1], Fraction(25), True)


def test_the_plans_tables_are_in_writing_order_without_a_sort_of_their_own() -> None:
    """The plan vouches for the read's order (`in_writing_order`): whatever mix of clean and repaired
    documents, ties and legacy ids the catalog holds, each table is what sorting would give."""
    from bson import ObjectId

    from features.create_export.plan import group_by_data_type, segment_tables
    from features.create_export.work_order import Outputs
    from shared.fabric import assemble, repair_batch

    rng = random.Random(10)
    for _ in range(20):
        documents = [
            {
                "_id": ObjectId() if rng.random() < 0.8 else f"legacy-{number}",
                "sdnaEventType": rng.choice(["transcript", "face", "comment", "marker", "logo"]),
                "eventValue": rng.choice(["a", "b", "c"]),
                "start": rng.choice([0.0, 0.5, 1.0, -2.0, -0.0, 3, rng.random()]),
                "end": rng.choice([2.0, 3.0]),
            }
            for number in range(rng.randint(1, 300))
        ]
        size = rng.randint(1, 40)
        read = assemble([repair_batch(documents[at : at + size]) for at in range(0, len(documents), size)])
        tables = segment_tables(group_by_data_type(read.events), Outputs())
        for table in tables.values():
            assert table.segments == sorted(table.segments, key=writing_order)
