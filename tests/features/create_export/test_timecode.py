"""Frame and timecode math, checked against exact decimal arithmetic and the `timecode` package."""

from __future__ import annotations

import re
from fractions import Fraction

import opentimelineio as otio
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from features.create_export.timecode import (
    SUPPORTED_RATES,
    TimecodeError,
    clock,
    fcpxml_time,
    frame_to_timecode,
    parse_frame_rate,
    seconds_to_frame,
    seconds_to_milliseconds,
    supports_drop_frame,
    timecode_base,
    timecode_to_frame,
)
from tests.features.create_export.exact import (
    DROP_FRAME_RATES,
    PACKAGE_RATES,
    exact_frame,
    exact_milliseconds,
    frame_to_label,
    key,
    label_to_frame,
    names_a_dropped_frame,
)

DAY = 86_400
NTSC_29 = Fraction(30000, 1001)
NTSC_59 = Fraction(60000, 1001)
# Every (rate, drop frame) pair a timeline can have.
MODES = [(rate, False) for rate in SUPPORTED_RATES]
MODES += [(rate, True) for rate in SUPPORTED_RATES if key(rate) in DROP_FRAME_RATES]
MODE_IDS = [f"{float(rate):.3f}-{'DF' if drop else 'NDF'}" for rate, drop in MODES]
LABEL = re.compile(r"^(\d{2}):([0-5]\d):([0-5]\d)([:;])(\d{2})$")

three_decimals = st.integers(min_value=0, max_value=DAY * 1000).map(lambda ms: ms / 1000)
any_seconds = st.floats(min_value=0, max_value=DAY, allow_nan=False, allow_infinity=False)


def frames_in_a_day(rate: Fraction, drop_frame: bool) -> int:
    """Labels 00:00:00:00 to 23:59:59:xx: where the `timecode` package (and most NLEs) wrap."""
    base = round(float(rate))
    dropped = DROP_FRAME_RATES.get(key(rate), 0) if drop_frame else 0
    return 24 * 60 * (60 * base - dropped) + 24 * 6 * dropped


def test_the_supported_rates_are_the_exact_rationals() -> None:
    assert {key(rate) for rate in SUPPORTED_RATES} == set(PACKAGE_RATES)
    assert {key(rate) for rate in SUPPORTED_RATES if supports_drop_frame(rate)} == set(DROP_FRAME_RATES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("29.97", (30000, 1001)),
        ("23.976", (24000, 1001)),
        ("23.98", (24000, 1001)),
        ("24000/1001", (24000, 1001)),
        ("59.94", (60000, 1001)),
        (" 25 ", (25, 1)),
        ("60/1", (60, 1)),
    ],
)
def test_frame_rates_parse_to_exact_rationals(text: str, expected: tuple[int, int]) -> None:
    assert key(parse_frame_rate(text)) == expected


@pytest.mark.parametrize("text", ["29.976", "0", "1/0", "abc", "", "-25", "25.5"])
def test_unsupported_frame_rates_are_refused(text: str) -> None:
    with pytest.raises(TimecodeError):
        parse_frame_rate(text)


def test_format_facts_worked_examples() -> None:
    # FORMAT-FACTS §1.2 and §1.3: numbers written there by hand, not by this code.
    assert seconds_to_frame(4.56, Fraction(25)) == 114
    assert clock(seconds_to_milliseconds(4.56), ",") == "00:00:04,560"
    assert frame_to_timecode(107892, NTSC_29, drop_frame=True) == "01:00:00;00"
    assert timecode_to_frame("01:00:00;00", NTSC_29, drop_frame=True) == 107892
    assert fcpxml_time(1234, NTSC_29) == "1235234/30000s"
    assert frame_to_timecode(108000, NTSC_29, drop_frame=False) == "01:00:00:00"
    # After one real hour, 29.97 NDF reads about 00:59:56:12.
    assert frame_to_timecode(seconds_to_frame(3600, NTSC_29), NTSC_29, drop_frame=False) == "00:59:56:12"
    assert frame_to_timecode(1800, NTSC_29, drop_frame=True) == "00:01:00;02"
    assert frame_to_timecode(1799, NTSC_29, drop_frame=True) == "00:00:59;29"


def test_timecode_bases_are_the_rounded_rates() -> None:
    assert [timecode_base(rate) for rate in SUPPORTED_RATES] == [24, 24, 25, 30, 30, 48, 48, 50, 60, 60]


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES), ids=str)
@given(seconds=three_decimals)
def test_milliseconds_decimals_land_on_the_exact_frame(rate: Fraction, seconds: float) -> None:
    milliseconds = round(seconds * 1000)
    # Pure integer arithmetic: frame = floor(ms × num / (1000 × den) + 1/2).
    expected = (2 * milliseconds * rate.numerator + 1000 * rate.denominator) // (2000 * rate.denominator)
    assert seconds_to_frame(seconds, rate) == expected


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES), ids=str)
@given(seconds=any_seconds)
def test_any_float_lands_on_the_decimal_half_up_frame(rate: Fraction, seconds: float) -> None:
    assert seconds_to_frame(seconds, rate) == exact_frame(seconds, rate)


@given(seconds=any_seconds | three_decimals)
def test_milliseconds_round_half_up(seconds: float) -> None:
    assert seconds_to_milliseconds(seconds) == exact_milliseconds(seconds)


@given(milliseconds=st.integers(min_value=0, max_value=DAY * 1000))
def test_half_milliseconds_round_up_never_to_even(milliseconds: int) -> None:
    # n.5 ms is a four-decimal time (0.0025 s), which prints exactly as it reads.
    seconds = (2 * milliseconds + 1) / 2000
    assert Fraction(repr(seconds)) == Fraction(2 * milliseconds + 1, 2000)
    assert seconds_to_milliseconds(seconds) == milliseconds + 1
    assert seconds_to_milliseconds(seconds) == exact_milliseconds(seconds)


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES), ids=str)
@given(data=st.data())
def test_ties_round_up_never_to_even(rate: Fraction, data: st.DataObject) -> None:
    # A time exactly half way between two frames: (n + 1/2) frames, when it is a short decimal.
    frame = data.draw(st.integers(min_value=0, max_value=DAY * 60))
    half_way = (Fraction(frame) + Fraction(1, 2)) / rate
    seconds = float(half_way)
    assume(Fraction(repr(seconds)) == half_way)
    assert seconds_to_frame(seconds, rate) == frame + 1
    assert seconds_to_frame(seconds, rate) == exact_frame(seconds, rate)


@pytest.mark.parametrize(("rate", "drop_frame"), MODES, ids=MODE_IDS)
@given(data=st.data())
def test_labels_round_trip_and_match_the_timecode_package(
    rate: Fraction, drop_frame: bool, data: st.DataObject
) -> None:
    frame = data.draw(st.integers(min_value=0, max_value=frames_in_a_day(rate, drop_frame) - 1))
    label = frame_to_timecode(frame, rate, drop_frame)
    assert LABEL.match(label), label
    assert label[8] == (";" if drop_frame else ":")
    assert timecode_to_frame(label, rate, drop_frame) == frame
    assert label.replace(";", ":") == frame_to_label(frame, rate, drop_frame).replace(";", ":")
    assert label_to_frame(label, rate, drop_frame) == frame
    if drop_frame:
        assert not names_a_dropped_frame(label, rate)


@pytest.mark.parametrize("rate", [NTSC_29, NTSC_59], ids=str)
def test_every_drop_frame_label_of_the_first_twenty_minutes(rate: Fraction) -> None:
    previous = None
    for frame in range(frames_in_a_day(rate, True) // 72):
        label = frame_to_timecode(frame, rate, drop_frame=True)
        assert not names_a_dropped_frame(label, rate), label
        assert timecode_to_frame(label, rate, drop_frame=True) == frame
        assert previous is None or label > previous  # labels only grow; none repeats
        previous = label
    assert frame_to_timecode(frames_in_a_day(rate, True) // 72, rate, True) == "00:20:00;00"


@pytest.mark.parametrize("rate", [NTSC_29, NTSC_59], ids=str)
@given(data=st.data())
def test_drop_frame_matches_opentimelineio(rate: Fraction, data: st.DataObject) -> None:
    frame = data.draw(st.integers(min_value=0, max_value=frames_in_a_day(rate, True) - 1))
    label = frame_to_timecode(frame, rate, drop_frame=True)
    assert otio.opentime.to_frames(otio.opentime.from_timecode(label, float(rate))) == frame


@pytest.mark.parametrize("rate", [NTSC_29, NTSC_59], ids=str)
@given(hours=st.integers(0, 23), minutes=st.integers(0, 59), data=st.data())
def test_labels_drop_frame_skips_are_refused(rate: Fraction, hours: int, minutes: int, data: st.DataObject) -> None:
    frames = data.draw(st.integers(0, DROP_FRAME_RATES[key(rate)] - 1))
    label = f"{hours:02d}:{minutes:02d}:00;{frames:02d}"
    if minutes % 10 == 0:
        assert timecode_to_frame(label, rate, drop_frame=True) == label_to_frame(label, rate, True)
    else:
        with pytest.raises(TimecodeError):
            timecode_to_frame(label, rate, drop_frame=True)


@pytest.mark.parametrize("rate", [r for r in SUPPORTED_RATES if not supports_drop_frame(r)], ids=str)
def test_drop_frame_is_refused_where_it_does_not_exist(rate: Fraction) -> None:
    with pytest.raises(TimecodeError):
        frame_to_timecode(100, rate, drop_frame=True)
    with pytest.raises(TimecodeError):
        timecode_to_frame("00:00:10;00", rate, drop_frame=True)


@pytest.mark.parametrize("label", ["00:00:00:30", "00:60:00:00", "00:00:60:00", "1:00:00:00", "00:00:00", "x"])
def test_impossible_labels_are_refused(label: str) -> None:
    with pytest.raises(TimecodeError):
        timecode_to_frame(label, NTSC_29, drop_frame=False)


def test_negative_frames_and_milliseconds_are_refused() -> None:
    with pytest.raises(TimecodeError):
        frame_to_timecode(-1, Fraction(25), drop_frame=False)
    with pytest.raises(TimecodeError):
        clock(-1, ".")


@pytest.mark.parametrize("rate", list(SUPPORTED_RATES), ids=str)
@given(frame=st.integers(min_value=0, max_value=DAY * 60))
def test_fcpxml_times_are_exact_rationals_on_the_frame(rate: Fraction, frame: int) -> None:
    text = fcpxml_time(frame, rate)
    match = re.fullmatch(r"(\d+)(?:/(\d+))?s", text)
    assert match, text
    seconds = Fraction(int(match[1]), int(match[2] or 1))
    assert seconds == Fraction(frame * rate.denominator, rate.numerator)
    assert seconds / Fraction(rate.denominator, rate.numerator) == frame


@given(milliseconds=st.integers(min_value=0, max_value=DAY * 1000 * 2))
def test_clock_labels_read_back(milliseconds: int) -> None:
    for separator in (",", "."):
        text = clock(milliseconds, separator)
        match = re.fullmatch(r"(\d{2,}):([0-5]\d):([0-5]\d)" + re.escape(separator) + r"(\d{3})", text)
        assert match, text
        hours, minutes, seconds, millis = (int(group) for group in match.groups())
        assert ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis == milliseconds
