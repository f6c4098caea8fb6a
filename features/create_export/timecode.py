"""Exact frame and timecode math for every format the export writes.

Rates are `fractions.Fraction` end to end (24000/1001, never 23.976), seconds are turned into exact
rationals through their shortest decimal form, and every rounding is half-up, so a time lands on the
same frame in the EDL, the FCPXML, the xmeml and the OTIO file. See FORMAT-FACTS §1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

try:
    from features.create_export import _timecode_native
except ImportError:  # built without a C compiler (setup.py): the Python loops below
    _timecode_native = None

HALF = Fraction(1, 2)

# The rates an editor's timeline can have. Decimal labels are mapped to the exact NTSC rationals.
SUPPORTED_RATES: dict[Fraction, str] = {
    Fraction(24000, 1001): "23.976",
    Fraction(24): "24",
    Fraction(25): "25",
    Fraction(30000, 1001): "29.97",
    Fraction(30): "30",
    Fraction(48000, 1001): "47.952",
    Fraction(48): "48",
    Fraction(50): "50",
    Fraction(60000, 1001): "59.94",
    Fraction(60): "60",
}
DECIMAL_ALIASES: dict[str, Fraction] = {
    "23.98": Fraction(24000, 1001),
    "23.976": Fraction(24000, 1001),
    "29.97": Fraction(30000, 1001),
    "47.95": Fraction(48000, 1001),
    "47.952": Fraction(48000, 1001),
    "59.94": Fraction(60000, 1001),
}
# Frames skipped at each minute (except every tenth) in drop-frame timecode.
DROPPED_PER_MINUTE: dict[Fraction, int] = {Fraction(30000, 1001): 2, Fraction(60000, 1001): 4}

_TIMECODE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


class TimecodeError(ValueError):
    """A frame rate or timecode label that cannot be used; the message says why."""


def parse_frame_rate(text: str) -> Fraction:
    """Read `"25"`, `"24000/1001"` or `"29.97"` as an exact supported rate."""
    cleaned = text.strip()
    rate = DECIMAL_ALIASES.get(cleaned)
    if rate is None:
        try:
            rate = Fraction(cleaned)
        except (ValueError, ZeroDivisionError) as error:
            raise TimecodeError(f"'{text}' is not a frame rate such as 25, 24000/1001 or 29.97") from error
    if rate not in SUPPORTED_RATES:
        supported = ", ".join(f"{label} ({rational_label(r)})" for r, label in SUPPORTED_RATES.items())
        raise TimecodeError(f"frame rate '{text}' is not supported; use one of {supported}")
    return rate


def rational_label(rate: Fraction) -> str:
    """The manifest's form of a rate: `"24000/1001"` or `"25"`."""
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def timecode_base(rate: Fraction) -> int:
    """Frames per timecode second: 24 for 23.976, 30 for 29.97, 25 for 25."""
    return round(rate)


def supports_drop_frame(rate: Fraction) -> bool:
    return rate in DROPPED_PER_MINUTE


def is_ntsc(rate: Fraction) -> bool:
    """True for the 1000/1001 rates (xmeml's `<ntsc>TRUE`)."""
    return rate.denominator == 1001


def exact_seconds(seconds: float) -> Fraction:
    """A float of seconds as the exact decimal it prints as (4.56 → 456/100, not 4.5599…)."""
    return Fraction(repr(float(seconds)))


def _decimal_ratio(seconds: float) -> tuple[int, int]:
    """`exact_seconds` as a numerator and denominator; `Decimal` does it ~4× faster than `Fraction`."""
    return Decimal(repr(float(seconds))).as_integer_ratio()


def round_half_up(value: Fraction) -> int:
    return math.floor(value + HALF)


# Issue 14: every format of a data type asks for the same frames, milliseconds and timecodes (the
# JSON twice per segment, the layout, the EDL, Avid ...), and the exact decimal arithmetic costs
# microseconds each. One table per rate, shared by every writer of every export of the process,
# emptied when it grows past TABLE_LIMIT entries so a long-running service stays bounded. A dict
# lookup is atomic under the GIL; two threads computing one missing entry both get the same value.
TABLE_LIMIT = 250_000  # about 25 MB a table; a 127,000-segment asset's times fit
_frames: dict[tuple[int, int], dict[float, int]] = {}
_milliseconds: dict[float, int] = {}
_timecodes: dict[tuple[int, int, bool, str | None], dict[int, str]] = {}


def _bounded(table: dict[Any, Any]) -> dict[Any, Any]:
    if len(table) > TABLE_LIMIT:
        table.clear()
    return table


# The rate object asked about last and its table, as one tuple (swapped atomically): a timeline's
# rate is one object, and Fraction's `numerator`, `denominator` and hash are Python code.
_recent_frames: tuple[Fraction | None, dict[float, int]] = (None, {})
_recent_timecodes: tuple[Fraction | None, bool, str | None, dict[int, str]] = (None, False, None, {})


def seconds_to_frame(seconds: float, rate: Fraction) -> int:
    """The nearest frame to a time, halves rounded up: floor(p/q × num/den + 1/2) in integers."""
    global _recent_frames
    recent = _recent_frames
    if recent[0] is rate:
        table = recent[1]
    else:
        table = _frames.setdefault((rate.numerator, rate.denominator), {})
        _recent_frames = (rate, table)
    frame = table.get(seconds)
    if frame is None:
        p, q = _decimal_ratio(seconds)
        numerator, denominator = rate.numerator, rate.denominator
        frame = _bounded(table)[seconds] = (2 * p * numerator + q * denominator) // (2 * q * denominator)
    return frame


def seconds_to_milliseconds(seconds: float) -> int:
    """The nearest millisecond to a time, halves rounded up."""
    millis = _milliseconds.get(seconds)
    if millis is None:
        p, q = _decimal_ratio(seconds)
        millis = _bounded(_milliseconds)[seconds] = (2 * p * 1000 + q) // (2 * q)
    return millis


def frame_to_seconds(frame: int, rate: Fraction) -> Fraction:
    return Fraction(frame) / rate


def fcpxml_time(frame: int, rate: Fraction) -> str:
    """A frame count as an FCPXML rational time: `1235234/30000s`, or `2s` when whole."""
    numerator = frame * rate.denominator
    if numerator % rate.numerator == 0:
        return f"{numerator // rate.numerator}s"
    return f"{numerator}/{rate.numerator}s"


def fcpxml_times_at(frames: Sequence[int], rate: Fraction) -> list[str]:
    """`fcpxml_time` of every frame count, the rate's terms read once (`Fraction`'s are Python code)."""
    numerator, denominator = rate.numerator, rate.denominator
    over_rate = f"/{numerator}s"
    scaled = [frame * denominator for frame in frames]
    return [f"{time}{over_rate}" if time % numerator else f"{time // numerator}s" for time in scaled]


def frame_to_timecode(frame: int, rate: Fraction, drop_frame: bool, separator: str | None = None) -> str:
    """The `HH:MM:SS:FF` label of a frame count (`;` before the frames for drop frame)."""
    global _recent_timecodes
    recent = _recent_timecodes
    if recent[0] is rate and recent[1] is drop_frame and recent[2] == separator:
        table = recent[3]
    else:
        table = _timecodes.setdefault((rate.numerator, rate.denominator, drop_frame, separator), {})
        _recent_timecodes = (rate, drop_frame, separator, table)
    label = table.get(frame)
    if label is None:
        label = _bounded(table)[frame] = _frame_to_timecode(frame, rate, drop_frame, separator)
    return label


def _frame_to_timecode(frame: int, rate: Fraction, drop_frame: bool, separator: str | None) -> str:
    if frame < 0:
        raise TimecodeError(f"frame {frame} is before 00:00:00:00")
    base = timecode_base(rate)
    counted = _drop_frame_count(frame, rate) if drop_frame else frame
    frames = counted % base
    total_seconds = counted // base
    hours, rest = divmod(total_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    sep = separator if separator is not None else (";" if drop_frame else ":")
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{sep}{frames:02d}"


def timecode_to_frame(label: str, rate: Fraction, drop_frame: bool) -> int:
    """The frame count of a timecode label; refuses labels that cannot exist at that rate."""
    match = _TIMECODE.match(label.strip())
    if match is None:
        raise TimecodeError(f"'{label}' is not a timecode of the form HH:MM:SS:FF")
    hours, minutes, seconds, _, frames = (int(g) if g.isdigit() else g for g in match.groups())
    base = timecode_base(rate)
    if minutes > 59 or seconds > 59:
        raise TimecodeError(f"'{label}' has minutes or seconds above 59")
    if frames >= base:
        raise TimecodeError(f"'{label}' has frame {frames}, but a second has {base} frames at this rate")
    total_minutes = hours * 60 + minutes
    counted = (total_minutes * 60 + seconds) * base + frames
    if not drop_frame:
        return counted
    if not supports_drop_frame(rate):
        raise TimecodeError(f"drop frame does not exist at {SUPPORTED_RATES.get(rate, rate)} fps")
    dropped = DROPPED_PER_MINUTE[rate]
    if seconds == 0 and frames < dropped and minutes % 10 != 0:
        skipped = f"00-{dropped - 1:02d}"
        raise TimecodeError(f"'{label}' does not exist in drop-frame timecode (frames {skipped} are skipped)")
    return counted - dropped * (total_minutes - total_minutes // 10)


def clock(milliseconds: int, decimal_separator: str) -> str:
    """`HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT) from a millisecond count."""
    if milliseconds < 0:
        raise TimecodeError(f"time {milliseconds} ms is negative")
    total_seconds, millis = divmod(milliseconds, 1000)
    hours, rest = divmod(total_seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{decimal_separator}{millis:03d}"


def _drop_frame_count(frame: int, rate: Fraction) -> int:
    """Add back the skipped labels so the count splits like non-drop (FORMAT-FACTS §1.3)."""
    return _drop_frame_counter(rate)(frame)


# Float arithmetic gives the exact half-up rounding whenever the scaled time is not within this of a
# whole number: its error is a few units in the last place (under 1e-8 for a million frames), and
# `exact_seconds` differs from the float by less than that. Closer calls take the exact path.
_NEAR_WHOLE = 1e-6
# Values per call of the C loops, which hold the GIL while they make the column's objects: a 100,000
# label column in one call held it ~45 ms, and the event loop waited (issue 14: /status p99 ≤ 50 ms).
NATIVE_STEP = 5_000


def frames_at(seconds: Sequence[float], rate: Fraction) -> list[int]:
    """`seconds_to_frame` of every time, a column at a time (issue 14: ~5× cheaper per time)."""
    return _scaled_half_up(seconds, rate.numerator / rate.denominator, lambda value: seconds_to_frame(value, rate))


def milliseconds_at(seconds: Sequence[float]) -> list[int]:
    """`seconds_to_milliseconds` of every time."""
    return _scaled_half_up(seconds, 1000.0, seconds_to_milliseconds)


def _scaled_half_up(seconds: Sequence[float], scale: float, exact: Callable[[float], int]) -> list[int]:
    if _timecode_native is not None and type(seconds) is list:
        try:
            rounded: list[int] = []
            for first in range(0, len(seconds), NATIVE_STEP):
                part, close = _timecode_native.scaled_half_up(seconds[first : first + NATIVE_STEP], scale, _NEAR_WHOLE)
                for index in close:
                    part[index] = exact(seconds[first + index])
                rounded += part
            return rounded
        except (OverflowError, TypeError):
            pass  # past 64 bits, or not all numbers: the loop below, as it always went
    return python_scaled_half_up(seconds, scale, exact)


def python_scaled_half_up(seconds: Sequence[float], scale: float, exact: Callable[[float], int]) -> list[int]:
    """`_scaled_half_up` in Python: the reference of `_timecode_native.scaled_half_up`, and the path
    where that is not built."""
    rounded = []
    append = rounded.append
    floor = math.floor
    for value in seconds:
        shifted = value * scale + 0.5
        whole = floor(shifted)
        if shifted - whole < _NEAR_WHOLE or whole + 1 - shifted < _NEAR_WHOLE:
            whole = exact(value)
        append(whole)
    return rounded


def timecodes_at(frames: Sequence[int], rate: Fraction, drop_frame: bool, offset: int = 0) -> list[str]:
    """`frame_to_timecode(offset + frame)` of every frame, a column at a time (issue 14)."""
    dropped = DROPPED_PER_MINUTE.get(rate, 0) if drop_frame else 0
    if _timecode_native is not None and type(frames) is list and (dropped or not drop_frame):
        try:
            return _timecode_native.timecodes_at(
                frames, timecode_base(rate), dropped, offset, ";" if drop_frame else ":"
            )
        except (OverflowError, TypeError, ValueError):
            pass  # past 64 bits, not all ints, or before zero: the Python path says what
    return python_timecodes_at(frames, rate, drop_frame, offset)


def python_timecodes_at(frames: Sequence[int], rate: Fraction, drop_frame: bool, offset: int = 0) -> list[str]:
    """`timecodes_at` in Python (the reference of `_timecode_native.timecodes_at`, and the path where
    that is not built): each `HH:MM:SS` label made once per second of the timeline, not per frame."""
    base = timecode_base(rate)
    frame_labels = [f"{';' if drop_frame else ':'}{frames_in:02d}" for frames_in in range(base)]
    second_labels: dict[int, str] = {}
    to_count = _drop_frame_counter(rate) if drop_frame else None
    labels = []
    append = labels.append
    for frame in frames:
        frame += offset
        if frame < 0:
            raise TimecodeError(f"frame {frame} is before 00:00:00:00")
        second, frames_in = divmod(to_count(frame) if to_count else frame, base)
        head = second_labels.get(second)
        if head is None:
            hours, rest = divmod(second, 3600)
            head = second_labels[second] = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        append(head + frame_labels[frames_in])
    return labels


def _drop_frame_counter(rate: Fraction) -> Callable[[int], int]:
    """`_drop_frame_count` at one rate, its constants worked out once (for a column of frames)."""
    dropped = DROPPED_PER_MINUTE.get(rate)
    if dropped is None:
        raise TimecodeError(f"drop frame does not exist at {SUPPORTED_RATES.get(rate, rate)} fps")
    base = timecode_base(rate)
    per_ten_minutes = 600 * base - 9 * dropped
    per_minute = 60 * base - dropped

    def count(frame: int) -> int:
        tens, remainder = divmod(frame, per_ten_minutes)
        extra = dropped * ((remainder - dropped) // per_minute) if remainder >= dropped else 0
        return frame + 9 * dropped * tens + extra

    return count
