"""Export at scale (issue 14): the service exporting a 127,000-event asset, beside the base commit.

    .venv/bin/python -m bench.export_bench [--scale 1.0 | --small] [--baseline-ref 6c29e9a | --no-baseline]
                                           [--orders full,twelve] [--seed 17] [--keep]
    .venv/bin/python -m bench.export_bench --writers [--formats xlsx,csv,...]   # writers alone, no service

The asset is generated deterministically from `--seed`: 20,000 transcript segments (back to back),
100,000 events (overlapping, some on one frame), 5,000 comments and 2,000 markers (times `--scale`),
about 6 % of the values hostile (line breaks, quotes, commas, `-->`, `|`, non-ASCII and right-to-left
text). It is loaded once into the catalog of a database of its own (the embedded FerretDB in a
temporary folder, unless `MONGODB_URL` is set; give `--db-pid` to have a local server's CPU and memory).

Then, on the same database, each side (this checkout, and the `--baseline-ref` commit checked out
beside it with `git worktree`) runs each work order in a fresh service process (`python main.py`,
EXPORT_CONCURRENCY=1, its own jobs database):

- `full`: 9 formats (json csv srt vtt edl fcpxml xmeml otio avid: what both sides have) × 4 data
  types, selects in edl/fcpxml/xmeml/otio, the grounding prompt and the LLM instructions, 23.976;
- `twelve`: json/srt/vtt/xmeml of the transcript, json/csv/xmeml/edl of events and of comments.

Reported per side and work order: POST → completed; the catalog read (POST → the first `writing`
step, as `/status` shows it) beside floors measured in the same run (a bare PyMongo `find` of the
same filter, unsorted and sorted by the database, before any export; and one bare find just before
and one just after each export, each after waiting for the database to be idle); the service's CPU
(until the first file, and after); the database's CPU and peak RSS growth during the export; the
service's peak RSS; per-format write times and the zip (from the steps `/status` shows, sampled
every 100 ms: ±0.1 s); `/status` p50 / p99 / max latency; and the longest time `progress` stayed
unchanged. CPU-seconds are robust to other load on the machine; latencies are not, so the load
average is printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.processes import ROOT, BenchProcess, cpu_seconds, kernel_seconds, memory_kb
from features.create_export import package
from features.create_export.media.source import decide_timing
from features.create_export.plan import ExportPlan
from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import timecode_to_frame
from features.create_export.timeline import Segment
from features.create_export.work_order import CreateExportRequest
from features.create_export.writers import SEGMENT_WRITERS
from features.create_export.writing import Step, write_step
from shared.db import CATALOG_COLLECTION, scoped_filter
from tools.embedded_mongo import EmbeddedMongo

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
    user: float = 0.0  # this process's CPU seconds in user space and in the kernel (writes)
    system: float = 0.0


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
        # One table per data type, shared by its writers, as the service's plan makes them.
        segments={name: SegmentTable(segments) for name, segments in asset.items()},
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
            started, cpu = time.perf_counter(), os.times()
            written = write_step(build, plan, Step(data_type, fmt, relative), [])
            seconds, after = time.perf_counter() - started, os.times()
            size = sum(file.path.stat().st_size for file in written)
            items = sum(file.items for file in written)
            user, system = after.user - cpu.user, after.system - cpu.system
            count = len(plan.segments[data_type])
            timings.append(Timing(data_type, fmt, count, items, len(written), size, seconds, user, system))
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
    print(f"{'format':<7} {'segments':>9} {'MB':>8} {'seconds':>8} {'user s':>7} {'system s':>8} {'segments/s':>11}")
    for fmt in dict.fromkeys(timing.fmt for timing in timings):
        rows = [timing for timing in timings if timing.fmt == fmt]
        segments = sum(row.segments for row in rows)
        seconds = sum(row.seconds for row in rows)
        size = sum(row.size for row in rows) / 1e6
        user, system = sum(row.user for row in rows), sum(row.system for row in rows)
        rate = segments / seconds
        print(f"{fmt:<7} {segments:>9} {size:>8.2f} {seconds:>8.2f} {user:>7.2f} {system:>8.2f} {rate:>11.0f}")
    total = sum(timing.seconds for timing in timings)
    cpu = sum(timing.user + timing.system for timing in timings)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nall formats, all data types: {total:.2f} s, {cpu:.2f} CPU s; peak RSS of this process {peak_mb:.0f} MB")


# --- the service, side by side with a base commit -----------------------------------------------------

REPO_GUID = "bench-repo"
FULL_PATH = "/bench/long_interview.mov"
BASE_COMMIT = "6c29e9a"
NINE_FORMATS = ["json", "csv", "srt", "vtt", "edl", "fcpxml", "xmeml", "otio", "avid"]
FINISHED = {"completed", "partially_completed", "failed", "cancelled"}
SAMPLE_SECONDS = 0.1


def work_orders() -> dict[str, dict[str, Any]]:
    media = {"frame_rate": "24000/1001", "start_timecode": "01:00:00:00"}
    full = {
        "repo_guid": REPO_GUID,
        "inputs": {"full_path": FULL_PATH},
        "outputs": {
            **{name: {"formats": NINE_FORMATS} for name in DATA_TYPES},
            "selects": {"enabled": True, "formats": ["edl", "fcpxml", "xmeml", "otio"]},
        },
        "user_inputs": {"prompt": "Find the strongest answers.", "llm_instructions": True},
        "media": media,
    }
    twelve = {
        "repo_guid": REPO_GUID,
        "inputs": {"full_path": FULL_PATH},
        "outputs": {
            "transcript": {"formats": ["json", "srt", "vtt", "xmeml"]},
            "events": {"formats": ["json", "csv", "xmeml", "edl"]},
            "comments": {"formats": ["json", "csv", "xmeml", "edl"]},
        },
        "user_inputs": {"llm_instructions": False},
        "media": media,
    }
    return {"full": full, "twelve": twelve}


def catalog_documents(asset: dict[str, list[Segment]]) -> list[dict[str, Any]]:
    """The asset as Fabric catalog documents, with ObjectIds from a counter (the same every run)."""
    documents = []
    for data_type in DATA_TYPES:
        for segment in asset[data_type]:
            document: dict[str, Any] = {
                "_id": ObjectId(f"{0x5F0000000000000000000000 + len(documents):024x}"),
                "repoGuid": REPO_GUID,
                "fullPath": FULL_PATH,
                "sdnaEventType": segment.event_type,
                "eventValue": segment.value,
                "start": segment.start,
                "end": segment.end,
            }
            if segment.confidence is not None:
                document["confidenceScore"] = segment.confidence
            if segment.source is not None:
                document["source"] = segment.source
            documents.append(document)
    # Stored in no time order, as a catalog filled by several enrichment passes is.
    random.Random(5).shuffle(documents)
    return documents


@dataclass
class Sample:
    at: float  # seconds since the POST
    latency_ms: float
    status: str
    progress: tuple[Any, Any]
    service_cpu: float | None
    db_rss_kb: int | None


@dataclass
class Result:
    side: str
    order: str
    seconds: float = 0.0
    status: str = ""
    samples: list[Sample] = field(default_factory=list)
    service_cpu: float = 0.0
    service_cpu_read: float | None = None
    service_kernel: float | None = None
    db_cpu: float | None = None
    db_rss_growth_mb: float | None = None
    service_peak_mb: float | None = None
    note: str = ""
    floor_before: float | None = None  # a bare find right before this export (`Bench.settle`)
    floor_after: float | None = None  # and one right after it

    def bracketing_floor(self) -> float | None:
        """The mean of the bare finds just before and just after the export: what a read cost on the
        database while it ran, as near as two finds can tell on a machine whose speed drifts."""
        finds = [seconds for seconds in (self.floor_before, self.floor_after) if seconds is not None]
        return statistics.fmean(finds) if finds else None

    def first_writing(self) -> Sample | None:
        return next((s for s in self.samples if str(s.progress[1]).startswith("writing")), None)

    def read_seconds(self) -> float | None:
        first = self.first_writing()
        return first.at if first is not None else None

    def steps(self) -> dict[str, float]:
        """Seconds per step as `/status` showed them (a step's time suffix folded into the step)."""
        spans: dict[str, float] = {}
        shown = [(s.at, base_step(str(s.progress[1]))) for s in self.samples]
        shown.append((self.seconds, "end"))
        for (at, step), (later, _) in itertools.pairwise(shown):
            spans[step] = spans.get(step, 0.0) + later - at
        return spans

    def longest_still(self) -> float:
        still, since, last = 0.0, 0.0, None
        for sample in self.samples:
            if sample.status in FINISHED:
                break
            still = max(still, sample.at - since)
            if sample.progress != last:
                last, since = sample.progress, sample.at
        return still


def base_step(step: str) -> str:
    if " (" in step and step.endswith(" s)"):
        step = step[: step.rindex(" (")]
    return "reading the catalog" if step.startswith("reading the catalog") else step


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, url: str, db_pid: int | None) -> None:
        self.args = args
        self.workdir = workdir
        self.url = url
        self.db_pid = db_pid
        self.catalog_db = "bench_export_catalog"
        self.runs = 0

    def environment(self, database: str, exports: Path) -> dict[str, str]:
        return {
            "MONGODB_URL": self.url,
            "MONGODB_DB_NAME": database,
            "FABRIC_MONGODB_URL": self.url,
            "FABRIC_CATALOG_DB": self.catalog_db,
            "FABRIC_API_URL": "",
            "EXPORT_BASE_PATH": str(exports),
            "IMPORT_BASE_PATH": str(exports.parent / f"{exports.name}-imports"),
            "EXPORT_CONCURRENCY": "1",
            "MEDIA_ROOTS": "",
            "API_KEYS": "",
            "ENVIRONMENT": "development",
            "LOG_LEVEL": "WARNING",
            "WORKERS": "1",
            "JOB_TIMEOUT_SECONDS": "3600",
        }

    def run(self, side: str, checkout: Path, order_name: str, order: dict[str, Any]) -> Result:
        self.runs += 1
        name = f"{self.runs:02d}-{side}-{order_name}"
        exports = self.workdir / f"exports-{name}"
        env = self.environment(f"bench_export_jobs_{self.runs}", exports)
        process = BenchProcess(
            name, [sys.executable, "main.py"], env, self.workdir / f"{name}.log", "/health", checkout
        )
        progress(f"{side} {order_name}: starting the service")
        process.start()
        floor_before = self.settle()
        try:
            result = asyncio.run(self.measure(process, side, order_name, order))
            result.floor_before = floor_before
        finally:
            process.stop()
            shutil.rmtree(exports, ignore_errors=True)
        result.floor_after = self.settle()
        progress(
            f"{side} {order_name}: {result.status} in {result.seconds:.1f} s, service CPU {result.service_cpu:.1f} s"
        )
        return result

    def settle(self) -> float:
        """Let the last export's after-effects pass, then time one bare find (returned, seconds).

        One side's export leaves work behind it (the base's sorted read left the embedded server
        with ~550 MB more to collect, and a package's pages wait to be written back), and this
        machine's own speed moves by up to half from one minute to the next. So before each
        export the page cache is flushed and the database waited for until it is idle (at most
        SETTLE_SECONDS), and one bare find shows what a read cost at that moment; one more after
        the export brackets it. Printed beside the catalog read, next to its ratio to the floors
        measured before any export."""
        os.sync()
        if self.db_pid:
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline:
                before = cpu_seconds(self.db_pid) or 0.0
                time.sleep(0.5)
                if (cpu_seconds(self.db_pid) or 0.0) - before < IDLE_CPU_SECONDS:
                    break
        return bare_find_seconds(self.url, self.catalog_db)

    async def measure(self, process: BenchProcess, side: str, order_name: str, order: dict[str, Any]) -> Result:
        assert process.process is not None
        pid = process.process.pid
        result = Result(side, order_name)
        db_cpu_before = cpu_seconds(self.db_pid) if self.db_pid else None
        db_rss_before = memory_kb(self.db_pid) if self.db_pid else None
        cpu_before = cpu_seconds(pid) or 0.0
        kernel_before = kernel_seconds(pid) or 0.0
        async with httpx.AsyncClient(base_url=process.url, timeout=60) as http:
            started = time.perf_counter()
            response = await http.post("/spark", json=order)
            if response.status_code not in (200, 202):
                raise RuntimeError(f"POST /spark answered {response.status_code}: {response.text[:500]}")
            status_url = response.json()["links"]["status"]
            tick = started
            while True:
                tick += SAMPLE_SECONDS
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))
                sent = time.perf_counter()
                body = (await http.get(status_url)).json()
                latency = (time.perf_counter() - sent) * 1000
                progress_field = body.get("progress") or {}
                sample = Sample(
                    at=sent - started,
                    latency_ms=latency,
                    status=body["status"],
                    progress=(progress_field.get("percent"), progress_field.get("step")),
                    service_cpu=cpu_seconds(pid),
                    db_rss_kb=memory_kb(self.db_pid) if self.db_pid else None,
                )
                result.samples.append(sample)
                if body["status"] in FINISHED:
                    result.seconds = time.perf_counter() - started
                    result.status = body["status"]
                    break
                if sent - started > self.args.timeout:
                    result.seconds, result.status, result.note = sent - started, body["status"], "timed out"
                    break
        result.service_cpu = (cpu_seconds(pid) or 0.0) - cpu_before
        result.service_kernel = (kernel_seconds(pid) or 0.0) - kernel_before
        first = result.first_writing()
        if first is not None and first.service_cpu is not None:
            result.service_cpu_read = first.service_cpu - cpu_before
        if db_cpu_before is not None:
            result.db_cpu = (cpu_seconds(self.db_pid) or 0.0) - db_cpu_before  # type: ignore[arg-type]
        peaks = [s.db_rss_kb for s in result.samples if s.db_rss_kb is not None]
        if db_rss_before is not None and peaks:
            result.db_rss_growth_mb = (max(peaks) - db_rss_before) / 1024
        peak = memory_kb(pid, "VmHWM")
        result.service_peak_mb = peak / 1024 if peak is not None else None
        if result.status != "completed":
            result.note = result.note or f"ended {result.status}"
        return result


def load_catalog(url: str, database: str, documents: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        collection = client[database][CATALOG_COLLECTION]
        collection.drop()
        for index in range(0, len(documents), 10_000):
            collection.insert_many(documents[index : index + 10_000], ordered=False)
    return time.perf_counter() - started


FLOOR_RUNS = 3
SETTLE_SECONDS = 20.0
IDLE_CPU_SECONDS = 0.03  # of the database's CPU in half a second: idle


def bare_find_seconds(url: str, database: str, sort: list[tuple[str, int]] | None = None) -> float:
    """One bare PyMongo `find` of the export's filter, iterated to the end (seconds)."""
    query = scoped_filter(REPO_GUID, fullPath=FULL_PATH)
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        started = time.perf_counter()
        cursor = client[database][CATALOG_COLLECTION].find(query).batch_size(1000)
        if sort:
            cursor = cursor.sort(sort)
        for _ in cursor:
            pass
        return time.perf_counter() - started


def floors(url: str, database: str) -> dict[str, float]:
    """A bare PyMongo `find` of the export's filter, unsorted and sorted by the database: the floor
    any catalog read on this server can reach. Each the median of FLOOR_RUNS finds (one find right
    after the load measured anywhere from 1.8 to 3.1 s on the same machine)."""
    timings: dict[str, float] = {}
    for name, sort in (("unsorted", None), ("sorted", [("start", 1), ("_id", 1)])):
        runs = [bare_find_seconds(url, database, sort) for _ in range(FLOOR_RUNS)]
        timings[name] = statistics.median(runs)
        timings[f"{name}_range"] = max(runs) - min(runs)
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        query = scoped_filter(REPO_GUID, fullPath=FULL_PATH)
        timings["documents"] = client[database][CATALOG_COLLECTION].count_documents(query)
    return timings


def baseline_checkout(ref: str, workdir: Path) -> Path:
    """`ref` checked out beside this one (a detached `git worktree` in the temporary folder)."""
    target = workdir / f"base-{ref}"
    subprocess.run(["git", "worktree", "add", "--detach", str(target), ref], cwd=ROOT, check=True, capture_output=True)
    return target


def remove_checkout(target: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(target)], cwd=ROOT, check=False, capture_output=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def slowest_step(result: Result) -> str:
    """The step `/status` answered with when it was slowest (where the event loop was held up)."""
    if not result.samples:
        return "n/a"
    slowest = max(result.samples, key=lambda sample: sample.latency_ms)
    return base_step(str(slowest.progress[1])).removeprefix("writing ")[:24]


def _f(value: float | None, digits: int = 1, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def report(results: list[Result], floor: dict[str, float], args: argparse.Namespace, counts: dict[str, int]) -> None:
    load = os.getloadavg()
    print()
    print("AI Spark — export at scale (bench/export_bench.py, issue 14)")
    print(f"asset: {sum(counts.values()):,} documents {counts}; seed {args.seed}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"floors (same run, same filter, median of {FLOOR_RUNS}): bare PyMongo find unsorted"
          f" {floor['unsorted']:.1f} s (range {floor['unsorted_range']:.1f}),"
          f" sorted by the database {floor['sorted']:.1f} s"
          f" ({floor['documents']:,.0f} documents)")  # fmt: skip
    header = ["", *(f"{r.side} {r.order}" for r in results)]
    rows: list[list[str]] = []

    def row(label: str, cells: list[str]) -> None:
        rows.append([label, *cells])

    row("POST → completed s", [_f(r.seconds) for r in results])
    unsorted = floor["unsorted"]
    row(
        "catalog read s (× unsorted floor)",
        [f"{_f(r.read_seconds())} ({(r.read_seconds() or 0) / unsorted:.2f}×)" for r in results],
    )
    row("  bare finds just before / after s (× mean)", [
        "n/a" if (bracket := r.bracketing_floor()) is None
        else f"{_f(r.floor_before)} / {_f(r.floor_after)} ({(r.read_seconds() or 0) / bracket:.2f}×)"
        for r in results
    ])  # fmt: skip
    row("writing, manifest and zip s", [_f(r.seconds - (r.read_seconds() or 0)) for r in results])
    row("service CPU s (read + rest)", [
        f"{r.service_cpu:.1f} ({_f(r.service_cpu_read)} + {_f(r.service_cpu - (r.service_cpu_read or 0))})"
        for r in results
    ])  # fmt: skip
    row("  of which in the kernel s", [_f(r.service_kernel) for r in results])
    row("database CPU s", [_f(r.db_cpu) for r in results])
    row("database peak RSS growth MB", [_f(r.db_rss_growth_mb, 0) for r in results])
    row("service peak RSS MB", [_f(r.service_peak_mb, 0) for r in results])
    row("/status p50 / p99 / max ms", [
        "{:.0f} / {:.0f} / {:.0f}".format(*(percentile([s.latency_ms for s in r.samples], q) for q in (0.5, 0.99, 1.0)))
        for r in results
    ])  # fmt: skip
    row("/status samples", [str(len(r.samples)) for r in results])
    row("slowest /status during", [slowest_step(r) for r in results])
    row("progress longest still s", [_f(r.longest_still()) for r in results])
    steps = list(dict.fromkeys(step for r in results for step in r.steps() if step.startswith("writing")))
    for step in steps:
        label = "zip + manifest s" if "zip" in step else f"{step.removeprefix('writing ')} s"
        row(label, [_f(r.steps().get(step)) for r in results])
    notes = [f"{r.side} {r.order}: {r.note}" for r in results if r.note]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
    for note in notes:
        print(f"note: {note}")
    by_key = {(r.side, r.order): r for r in results}
    for order in dict.fromkeys(r.order for r in results):
        base, this = by_key.get(("base", order)), by_key.get(("this", order))
        if base and this and base.service_cpu:
            print(f"{order}: service CPU this ÷ base = {this.service_cpu / base.service_cpu:.2f} (target ≤ 0.33)")
    print(flush=True)


def profile_in_process(url: str, catalog_db: str, order: dict[str, Any], workdir: Path, top: int = 40) -> None:
    """`--profile`: the service's own work for one work order (plan with the catalog read, every
    file, the zip), in this process's main thread under cProfile, the top functions by own time."""
    import cProfile
    import pstats
    from types import SimpleNamespace

    from pymongo import AsyncMongoClient

    from features.create_export.plan import make_plan
    from features.create_export.writing import planned_steps, select_ranges
    from shared.settings import Settings

    request = CreateExportRequest.model_validate(order)
    settings = Settings(_env_file=None, mongodb_url=url, fabric_catalog_db=catalog_db, media_roots=[])

    async def read() -> ExportPlan:
        client: AsyncMongoClient = AsyncMongoClient(url)
        services = SimpleNamespace(
            settings=settings, database=SimpleNamespace(catalog=client[catalog_db][CATALOG_COLLECTION])
        )
        try:
            return await make_plan(request, services)  # type: ignore[arg-type]
        finally:
            await client.close()

    profiler = cProfile.Profile()
    started = time.process_time()
    plan = profiler.runcall(asyncio.run, read())
    read_cpu = time.process_time() - started
    build = package.PackageBuild(base=workdir, spark_id="profile", token="run")
    build.folder.mkdir(parents=True)
    ranges = select_ranges(plan) if plan.order.outputs.selects.enabled else []
    step_cpu: dict[str, float] = {}
    for step in planned_steps(plan):
        before = time.process_time()
        profiler.runcall(write_step, build, plan, step, ranges)
        step_cpu[step.fmt] = step_cpu.get(step.fmt, 0.0) + time.process_time() - before
    before = time.process_time()
    profiler.runcall(package.write_zip, build)
    step_cpu["zip"] = time.process_time() - before
    print(f"catalog read + plan: {read_cpu:.1f} CPU s; per format (all types): "
          + ", ".join(f"{name} {seconds:.1f}" for name, seconds in step_cpu.items()))  # fmt: skip
    stats = pstats.Stats(profiler).sort_stats("tottime")
    stats.print_stats(top)
    if os.environ.get("BENCH_CALLERS"):
        stats.print_callers(os.environ["BENCH_CALLERS"])


def lags_in_process(url: str, catalog_db: str, order: dict[str, Any], workdir: Path, top: int = 8) -> None:
    """`--lags`: the export's work for one work order in this process as the service runs it (the
    read on the event loop, each file in a thread, the heap settled between), beside a coroutine
    that sleeps 5 ms in a loop: its longest overshoots, each with the part of the export it fell in."""
    from types import SimpleNamespace

    from pymongo import AsyncMongoClient

    from features.create_export.plan import make_plan
    from features.create_export.writing import planned_steps, select_ranges
    from shared import heap
    from shared.settings import Settings

    request = CreateExportRequest.model_validate(order)
    settings = Settings(_env_file=None, mongodb_url=url, fabric_catalog_db=catalog_db, media_roots=[])
    build = package.PackageBuild(base=workdir, spark_id="lags", token="run")
    build.folder.mkdir(parents=True)
    doing = ["the catalog read"]
    lags: list[tuple[float, str]] = []

    async def watch() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(((time.perf_counter() - before - 0.005) * 1000, doing[0]))

    async def export() -> None:
        client: AsyncMongoClient = AsyncMongoClient(url)
        services = SimpleNamespace(
            settings=settings, database=SimpleNamespace(catalog=client[catalog_db][CATALOG_COLLECTION])
        )
        watcher = asyncio.create_task(watch())

        async def documents_read(count: int) -> None:
            heap.settle()  # as `create_export.process` does
            doing[0] = f"the catalog read ({count:,} documents)"

        try:
            plan = await make_plan(request, services, documents_read)  # type: ignore[arg-type]
            doing[0] = "after the plan"
            heap.settle()
            ranges = await asyncio.to_thread(select_ranges, plan) if plan.order.outputs.selects.enabled else []
            for step in planned_steps(plan):
                doing[0] = step.relative
                await asyncio.to_thread(write_step, build, plan, step, ranges)
                heap.settle()
            doing[0] = "the zip"
            await asyncio.to_thread(package.write_zip, build)
        finally:
            watcher.cancel()
            await client.close()
            heap.release()

    asyncio.run(export())
    lags.sort(reverse=True)
    print(f"event-loop lag over {len(lags)} sleeps of 5 ms: p50 {lags[len(lags) // 2][0]:.1f} ms; the longest:")
    for lag, during in lags[:top]:
        print(f"  {lag:7.1f} ms  during {during}")


def write_samples(path: Path, results: list[Result]) -> None:
    """`--samples`: every `/status` sample of every run, one tab-separated line each."""
    with path.open("w", encoding="utf-8") as out:
        out.write("side\torder\tat_s\tlatency_ms\tstatus\tpercent\tstep\n")
        for result in results:
            for sample in result.samples:
                percent, step = sample.progress
                line = [result.side, result.order, f"{sample.at:.3f}", f"{sample.latency_ms:.1f}", sample.status]
                out.write("\t".join([*line, str(percent), str(step)]) + "\n")
    progress(f"samples written to {path}")


def progress(message: str) -> None:
    print(f"[export_bench] {message}", file=sys.stderr, flush=True)


def run_service_bench(args: argparse.Namespace, counts: dict[str, int]) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="ai-spark-export-bench-"))
    server: EmbeddedMongo | None = None
    checkout: Path | None = None
    try:
        external = os.environ.get("MONGODB_URL")
        if external:
            url, db_pid = external, args.db_pid
        else:
            progress("starting the embedded FerretDB")
            server = EmbeddedMongo(workdir / "ferretdb" / "data", log_path=workdir / "ferretdb.log").start()
            url = server.url
            db_pid = server.process.pid if server.process is not None else None
        bench = Bench(args, workdir, url, db_pid)
        documents = catalog_documents(generate_asset(counts, args.seed))
        progress(f"loading {len(documents):,} catalog documents")
        progress(f"loaded in {load_catalog(url, bench.catalog_db, documents):.1f} s")
        del documents
        if args.profile:
            profile_in_process(url, bench.catalog_db, work_orders()[args.order_list[0]], workdir)
            return
        if args.lags:
            lags_in_process(url, bench.catalog_db, work_orders()[args.order_list[0]], workdir)
            return
        floor = floors(url, bench.catalog_db)
        progress(f"floors: unsorted {floor['unsorted']:.1f} s, sorted {floor['sorted']:.1f} s")
        sides = [("this", ROOT)]
        if args.baseline_ref:
            try:
                checkout = baseline_checkout(args.baseline_ref, workdir)
                sides = [("base", checkout), ("this", ROOT)]
            except (OSError, subprocess.CalledProcessError) as error:  # no git, or no such commit here
                progress(f"cannot check out {args.baseline_ref} beside this one ({error}); this checkout only")
        orders = work_orders()
        results = [bench.run(side, path, name, orders[name]) for name in args.order_list for side, path in sides]
        if args.samples:
            write_samples(Path(args.samples), results)
        report(results, floor, args, counts)
    finally:
        if checkout is not None:
            remove_checkout(checkout)
        if server is not None:
            server.stop()
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.export_bench", description=__doc__.splitlines()[0])
    for name, default in (("transcript", 20_000), ("events", 100_000), ("comments", 5_000), ("markers", 2_000)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count (e.g. 0.1)")
    parser.add_argument("--small", action="store_true", help="--scale 0.05: a quick try")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--baseline-ref", default=BASE_COMMIT, help=f"commit to run beside (default {BASE_COMMIT})")
    parser.add_argument("--no-baseline", action="store_true", help="run this checkout only")
    parser.add_argument("--orders", default="full,twelve", help="work orders: full, twelve or both")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds an export may take")
    parser.add_argument("--db-pid", type=int, help="PID of a local MONGODB_URL server, for its CPU and memory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument("--samples", help="write every /status sample to this file (tab-separated)")
    parser.add_argument("--profile", action="store_true", help="profile the first work order in this process")
    parser.add_argument(
        "--lags", action="store_true", help="the event loop's longest lags, first work order, in process"
    )
    parser.add_argument("--writers", action="store_true", help="time the format writers alone (no service)")
    parser.add_argument("--formats", default=",".join(SEGMENT_WRITERS), help="--writers: comma-separated")
    args = parser.parse_args(argv)
    scale = 0.05 if args.small else args.scale
    counts = {name: max(1, round(getattr(args, name) * scale)) for name in DATA_TYPES}
    if args.no_baseline:
        args.baseline_ref = None
    args.order_list = [part.strip() for part in args.orders.split(",") if part.strip()]
    if args.writers:
        formats = [fmt.strip() for fmt in args.formats.split(",") if fmt.strip()]
        started = time.perf_counter()
        asset = generate_asset(counts, args.seed)
        print(f"asset: {sum(counts.values())} segments {counts}, generated in {time.perf_counter() - started:.1f} s")
        with tempfile.TemporaryDirectory(prefix="export-bench-") as folder:
            timings = time_writers(plan_for(asset, formats), formats, Path(folder))
        print_table(timings)
        return
    run_service_bench(args, counts)


if __name__ == "__main__":
    main()
