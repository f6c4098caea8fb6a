"""Independent oracles for the export tests: the answers computed another way than the code under test.

Frames and milliseconds come from `decimal.Decimal` with ROUND_HALF_UP at a high precision (the
writers use `fractions.Fraction` and floor(x + 1/2)); timecode labels are read with the `timecode`
PyPI package (and OpenTimelineIO in the EDL tests), never with `features.create_export.timecode`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

from timecode import Timecode

# The rates as the `timecode` package spells them, keyed by the exact (numerator, denominator).
PACKAGE_RATES: dict[tuple[int, int], str] = {
    (24000, 1001): "23.976",
    (24, 1): "24",
    (25, 1): "25",
    (30000, 1001): "29.97",
    (30, 1): "30",
    (48000, 1001): "47.952",
    (48, 1): "48",
    (50, 1): "50",
    (60000, 1001): "59.94",
    (60, 1): "60",
}
DROP_FRAME_RATES = {(30000, 1001): 2, (60000, 1001): 4}


def key(rate: Fraction) -> tuple[int, int]:
    return rate.numerator, rate.denominator


def exact_frame(seconds: float, rate: Fraction) -> int:
    """round_half_up(seconds × rate), the seconds taken as the decimal the float prints as."""
    with localcontext() as context:
        context.prec = 100
        product = Decimal(repr(seconds)) * Decimal(rate.numerator) / Decimal(rate.denominator)
        return int(product.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def exact_milliseconds(seconds: float) -> int:
    with localcontext() as context:
        context.prec = 100
        return int((Decimal(repr(seconds)) * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def label_to_frame(label: str, rate: Fraction, drop_frame: bool) -> int:
    """A timecode label read back by the `timecode` package (its frame numbers start at 1)."""
    parsed = Timecode(PACKAGE_RATES[key(rate)], label.replace(";", ":"), force_non_drop_frame=not drop_frame)
    return parsed.frames - 1


def frame_to_label(frame: int, rate: Fraction, drop_frame: bool) -> str:
    return str(Timecode(PACKAGE_RATES[key(rate)], frames=frame + 1, force_non_drop_frame=not drop_frame))


def names_a_dropped_frame(label: str, rate: Fraction) -> bool:
    """True for labels drop-frame counting skips: 00:01:00;00 and ;01 at 29.97 (…;03 at 59.94)."""
    minutes, seconds, frames = int(label[3:5]), int(label[6:8]), int(label[9:])
    return minutes % 10 != 0 and seconds == 0 and frames < DROP_FRAME_RATES[key(rate)]
