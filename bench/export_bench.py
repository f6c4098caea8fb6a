"""Export writers on a large asset: seconds, size and items per format, the way the package builder
calls them.

    .venv/bin/python -m bench.export_bench [--transcript 20000] [--events 100000] [--comments 5000]
                                           [--markers 2000] [--seed 17] [--formats xlsx,csv,...]

The asset is generated here, deterministically from `--seed`: 127,000 segments by default (transcript
cues back to back, events that overlap, comments and markers), about 6 % of the values hostile (line
breaks, quotes, commas, `-->`, `|`, non-ASCII and right-to-left text). Each data type is written in
every format through `writing.write_step`, the call the processor makes in its worker thread
(writer, then the manifest record: size and sha256), into a temporary folder, one after another, so
the figures add up to the writing part of an export. No database and no API: that is the full-export
timing's job (issue 14 extends this file with it, with the catalog read, and with `/status` sampling
while it runs).

Timings are wall-clock on whatever else the machine is doing; compare formats within a run.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from features.create_export import package
from features.create_export.media.source import decide_timing
from features.create_export.plan import ExportPlan
from features.create_export.timecode import timecode_to_frame
from features.create_export.timeline import Segment
from features.create_export.work_order import CreateExportRequest
from features.create_export.writers import SEGMENT_WRITERS
from features.create_export.writing import Step, write_step

DATA_TYPES = ("transcript", "events", "comments", "markers")
HOSTILE_SHARE = 0.06
HOSTILE_PIECES = (
    "line one\nline two",
    'she said "cut", then left',
    "commas, commas, commas",
    "an arrow --> here",
    "pipes | and ||",
    "café ünïcödé €",
    "שלום עולם",
    "مرحبا بالعالم",
    "日本語のテキスト",
    "<HANDLE WITH CARE>",
    "=SUM(A1:A9)",
    "emoji 🎬👍🏽",
)
WORDS = ("take", "camera", "light", "interview", "answer", "wide", "close", "sound", "cut", "scene", "good", "again")
EVENT_TYPES = ("face", "object", "logo", "shot", "keyword", "speaker", "sentiment", "topic")


@dataclass(frozen=True)
class Timing:
    data_type: str
    fmt: str
    segments: int
    items: int
    files: int
    size: int
    seconds: float


def generate_asset(counts: dict[str, int], seed: int) -> dict[str, list[Segment]]:
    """Segments per data type; the same seed gives the same asset."""
    rng = random.Random(seed)
    duration = 4 * 3600.0
    return {
        "transcript": _transcript(rng, counts["transcript"], duration),
        "events": _scattered(rng, counts["events"], duration, "events", lambda: rng.choice(EVENT_TYPES), 20.0),
        "comments": _scattered(rng, counts["comments"], duration, "comments", lambda: "comment", 6.0),
        "markers": _scattered(rng, counts["markers"], duration, "markers", lambda: "marker", 2.0),
    }


def _value(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    if rng.random() < HOSTILE_SHARE:
        text = f"{text} {rng.choice(HOSTILE_PIECES)} {rng.choice(HOSTILE_PIECES)}"
    return text


def _transcript(rng: random.Random, count: int, duration: float) -> list[Segment]:
    """Cues back to back over the asset, 2-8 words each."""
    step = duration / max(count, 1)
    return [
        Segment(
            id=f"tr-{index:06d}",
            event_type="transcript",
            value=_value(rng, rng.randint(2, 8)),
            start=round(index * step, 3),
            end=round(index * step + step * rng.uniform(0.6, 1.0), 3),
            confidence=round(rng.uniform(0.5, 1.0), 4),
            source="asr",
        )
        for index in range(count)
    ]


def _scattered(rng: random.Random, count: int, duration: float, prefix: str, kind, longest: float) -> list[Segment]:
    """Segments at random times: they overlap, and some start on the same frame."""
    segments = []
    for index in range(count):
        start = round(rng.uniform(0, duration - longest), 3)
        segments.append(
            Segment(
                id=f"{prefix[:2]}-{index:06d}",
                event_type=kind(),
                value=_value(rng, rng.randint(1, 5)),
                start=start,
                end=round(start + rng.uniform(0, longest), 3),
                confidence=round(rng.uniform(0, 100), 2) if index % 3 else None,
                source="vision" if index % 2 else None,
            )
        )
    return segments


def plan_for(asset: dict[str, list[Segment]], formats: list[str]) -> ExportPlan:
    order = CreateExportRequest.model_validate(
        {
            "repo_guid": "bench-repo",
            "inputs": {"full_path": "/bench/long_interview.mov"},
            "outputs": {name: {"formats": formats} for name in DATA_TYPES},
            "user_inputs": {"llm_instructions": False},
            "media": {"frame_rate": "24000/1001", "start_timecode": "01:00:00:00"},
        }
    )
    timing = decide_timing(order.media, None, default_rate="25")  # no media: the work order's rate
    return ExportPlan(
        order=order,
        full_path="/bench/long_interview.mov",
        rate=timing.rate,
        drop_frame=timing.drop_frame,
        start_frame=timecode_to_frame("01:00:00:00", timing.rate, drop_frame=timing.drop_frame),
        segments=asset,
        counts={name: len(segments) for name, segments in asset.items()},
        timing=timing,
    )


def time_writers(plan: ExportPlan, formats: Iterable[str], folder: Path) -> list[Timing]:
    build = package.PackageBuild(base=folder, spark_id="bench", token="run")
    build.folder.mkdir(parents=True)
    timings = []
    for data_type in DATA_TYPES:
        for fmt in formats:
            relative = f"{data_type}/sdna_ai_spark_{data_type}.{SEGMENT_WRITERS[fmt].extension}"
            started = time.perf_counter()
            written = write_step(build, plan, Step(data_type, fmt, relative), [])
            seconds = time.perf_counter() - started
            size = sum(file.path.stat().st_size for file in written)
            items = sum(file.items for file in written)
            timings.append(Timing(data_type, fmt, len(plan.segments[data_type]), items, len(written), size, seconds))
            print(f"  {data_type:<10} {fmt:<7} {seconds:7.2f} s", file=sys.stderr, flush=True)
    return timings


def print_table(timings: list[Timing]) -> None:
    print(f"{'data type':<10} {'format':<7} {'segments':>9} {'items':>9} {'files':>5} {'MB':>8} {'seconds':>8}")
    for timing in timings:
        print(
            f"{timing.data_type:<10} {timing.fmt:<7} {timing.segments:>9} {timing.items:>9} {timing.files:>5}"
            f" {timing.size / 1e6:>8.2f} {timing.seconds:>8.2f}"
        )
    print()
    print(f"{'format':<7} {'segments':>9} {'MB':>8} {'seconds':>8} {'segments/s':>11}")
    for fmt in dict.fromkeys(timing.fmt for timing in timings):
        rows = [timing for timing in timings if timing.fmt == fmt]
        segments = sum(row.segments for row in rows)
        seconds = sum(row.seconds for row in rows)
        size = sum(row.size for row in rows) / 1e6
        print(f"{fmt:<7} {segments:>9} {size:>8.2f} {seconds:>8.2f} {segments / seconds:>11.0f}")
    total = sum(timing.seconds for timing in timings)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nall formats, all data types: {total:.2f} s; peak RSS of this process {peak_mb:.0f} MB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("transcript", 20_000), ("events", 100_000), ("comments", 5_000), ("markers", 2_000)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--formats", default=",".join(SEGMENT_WRITERS), help="comma-separated, default: all")
    args = parser.parse_args(argv)
    formats = [fmt.strip() for fmt in args.formats.split(",") if fmt.strip()]
    counts = {name: getattr(args, name) for name in DATA_TYPES}
    started = time.perf_counter()
    asset = generate_asset(counts, args.seed)
    print(f"asset: {sum(counts.values())} segments {counts}, generated in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="export-bench-") as folder:
        timings = time_writers(plan_for(asset, formats), formats, Path(folder))
    print_table(timings)


if __name__ == "__main__":
    main()
