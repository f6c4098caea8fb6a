"""Segments and timelines the export tests share: the hostile text real catalogs hold."""

from __future__ import annotations

import random
from fractions import Fraction

from features.create_export.timeline import Segment, Timeline

# The timelines the text-format tests run at: NTSC and PAL, drop frame and not.
MODES = [
    (Fraction(24000, 1001), False),
    (Fraction(25), False),
    (Fraction(30000, 1001), True),
    (Fraction(30000, 1001), False),
    (Fraction(60000, 1001), True),
]
MODE_IDS = ["23.976", "25", "29.97DF", "29.97NDF", "59.94DF"]

HOSTILE_VALUES = [
    "Plain words",
    "Line one\nLine two\r\nLine three\n\n\nafter blank lines",
    "An arrow --> inside the text",
    "Pipes | and || more |",
    "Quotes \"double\" and 'single', commas, and ;semicolons;",
    "=SUM(A1:A9) looks like a formula",
    "+1 and -1 and @mention",
    "Emoji 🎬🎞️👍🏽 and ZWJ 👩‍👩‍👧",
    "Right to left: שלום עולם and مرحبا بالعالم",
    "日本語のテキストと中文",
    "Ampersand & <tags> & > signs",
    "Control\x01chars\x07and\x0btabs\there",
    "   padded with spaces   ",
    "* star at the start",
    "x" * 600,
]


def hostile_segments(event_type: str = "insight") -> list[Segment]:
    """One segment per hostile value, plus a zero-length one; all repaired (end >= start)."""
    segments = [
        Segment(
            id=f"seg-{index:03d}",
            event_type=event_type,
            value=value,
            start=1.0 + index * 3.5,
            end=1.0 + index * 3.5 + 2.25,
            confidence=round(50 + index * 3.1, 2),
            source="sample",
        )
        for index, value in enumerate(HOSTILE_VALUES)
    ]
    segments.append(Segment(id="seg-zero", event_type=event_type, value="zero length", start=70.0, end=70.0))
    segments.append(Segment(id="seg-empty", event_type=event_type, value="", start=72.0, end=73.0))
    return segments


def many_segments(count: int, event_type: str = "label", seed: int = 7) -> list[Segment]:
    """`count` segments of one type spread over about an hour, sorted by start."""
    rng = random.Random(seed)
    starts = sorted(rng.uniform(0, 3600) for _ in range(count))
    return [
        Segment(
            id=f"evt-{index:05d}",
            event_type=event_type,
            value=f"{event_type} {index} {rng.choice(['person', 'car', 'tree', 'logo'])}",
            start=round(start, 3),
            end=round(start + rng.uniform(0, 8), 3),
            confidence=round(rng.uniform(0, 100), 2),
        )
        for index, start in enumerate(starts)
    ]


def timeline(
    rate: Fraction = Fraction(24000, 1001),
    drop_frame: bool = False,
    start_frame: int = 0,
    data_type: str = "comments",
    media_duration: float | None = None,
) -> Timeline:
    return Timeline(
        rate=rate,
        drop_frame=drop_frame,
        start_frame=start_frame,
        repo_guid="demo-repo",
        full_path="/demo/interview.mov",
        data_type=data_type,
        title=f"interview.mov {data_type}",
        media_url="file:///demo/interview.mov",
        media_duration=media_duration,
    )
