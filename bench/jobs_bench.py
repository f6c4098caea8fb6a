"""Durable jobs against a no-durability baseline: throughput and latency of tiny exports.

    .venv/bin/python -m bench.jobs_bench [--jobs 200] [--repeat 1] [--processes 1,2] [--concurrency 2]

A tiny export is one data type (`events`, from a synthetic asset of `--events` catalog events) in
one format (`json`), without LLM instructions. The benchmark starts its own database (the embedded
FerretDB in a temporary folder, unless `MONGODB_URL` is set), loads the asset, and for every
scenario starts fresh processes on a fresh database:

- durable: the service itself (`python main.py`), one or two processes sharing the database;
- baseline: `bench/baseline_app.py` under uvicorn, a bare FastAPI app doing the same work through
  BackgroundTasks: no claims, leases, heartbeats or fences, and none of the service's per-request
  work either (validation, idempotency, auth, request ids, access logs, metrics);
- bg-service: `bench/baseline_service.py`, the service itself with BackgroundTasks in place of the
  job runner: everything but durability, so `durable ÷ bg-service` is the cost of durability alone;
- durable-sched: the service with scheduling on: the jobs cycle through `low`, `normal` and `high`
  priority and through `SCHED_REPOS` repositories, each capped at `--repo-cap` running exports
  across the processes (`REPO_EXPORT_CONCURRENCY`), so `durable-sched ÷ durable` is their cost.

All use the same `EXPORT_CONCURRENCY` per process.

Each is measured twice, the same way:

- throughput: `--jobs` POSTs from `--clients` concurrent HTTP clients (round-robin over the
  processes); jobs/s = jobs / (first POST sent → last `completed_at` written);
- light load: `--light-jobs` POSTs one at a time at `--light-rate` per second (open loop);
  latency of each job = its `completed_at` − the moment its POST was sent (p50 / p99).

Times come from the job documents (`created_at`, `started_at`, `completed_at`, written by the
processes on this machine's clock), so the poll that waits for the end does not blur them. A few
warm-up jobs per scenario are left out. With `--repeat N` the rounds alternate the order of the
sides, and the summary takes the median. The exit code is 0 whether or not the target is met.

The details table adds where the time goes: POST round trip, queued (created → claimed) and run
(claimed → completed) medians, and the CPU each side used per job (app processes, database server
when its PID is known, this benchmark). For a deeper look:

- `--profile` times every MongoDB command of the apps by shape (`bench/profile_service.py`);
- `--service-command "..."` starts the durable side with another command (a variant to compare);
- `--db-pid PID` names a local `MONGODB_URL` server, so its CPU is reported too.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient, MongoClient, uri_parser
from pymongo.asynchronous.collection import AsyncCollection

from bench.processes import BenchProcess, baseline_argv, cpu_seconds, service_argv
from shared.db import CATALOG_COLLECTION
from tests.support import synthetic_events
from tools.embedded_mongo import EmbeddedMongo

REPO_GUID = "bench-repo"
FULL_PATH = "/bench/tiny.mov"
ORDER: dict[str, Any] = {
    "repo_guid": REPO_GUID,
    "inputs": {"full_path": FULL_PATH},
    "outputs": {"events": {"formats": ["json"]}},
    "user_inputs": {"llm_instructions": False},
    "media": {"frame_rate": "24000/1001"},
}
JSON_FILE = Path("events") / "sdna_ai_spark_events.json"
FINISHED = ["completed", "partially_completed", "failed", "cancelled"]
TARGET_RATIO = 0.8
POLL_SECONDS = 0.1
DURABLE, BASELINE, BG_SERVICE, SCHED = "durable", "baseline", "bg-service", "durable-sched"
SIDES = (DURABLE, SCHED, BG_SERVICE, BASELINE)  # the order of the table rows
SCHED_REPOS = [REPO_GUID, *(f"{REPO_GUID}-{n}" for n in range(1, 4))]
PRIORITY_CYCLE = ("low", "normal", "high")


def order_for(side: str, number: int) -> dict[str, Any]:
    """The work order of job `number`: always the same tiny export, on the scheduled side spread over
    the priorities and the capped repositories."""
    if side != SCHED:
        return ORDER
    return {**ORDER, "repo_guid": SCHED_REPOS[number % len(SCHED_REPOS)], "priority": PRIORITY_CYCLE[number % 3]}


THROUGHPUT, LIGHT = "throughput", "light"


class BenchError(RuntimeError):
    pass


# --- measurements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    job_id: str
    sent: float  # epoch seconds, just before the POST went out
    post_ms: float


@dataclass
class Measurement:
    side: str
    load: str
    processes: int
    round: int
    jobs: int
    seconds: float | None = None
    completed: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    wait_ms: list[float] = field(default_factory=list)
    run_ms: list[float] = field(default_factory=list)
    note: str = ""
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # app, db, bench: during the measured part
    commands: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def jobs_per_second(self) -> float | None:
        return self.completed / self.seconds if self.seconds else None

    @property
    def label(self) -> str:
        return f"{self.side} {THROUGHPUT if self.load == THROUGHPUT else 'light load'}"


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- the run -----------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    mongodb_url: str
    database_label: str
    catalog_db: str
    db_pid: int | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    databases: list[str] = field(default_factory=list)
    processes: list[BenchProcess] = field(default_factory=list)
    sample_files: dict[str, bytes] = field(default_factory=dict)

    def environment(self, database: str, exports: Path) -> dict[str, str]:
        return {
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DB_NAME": database,
            "FABRIC_MONGODB_URL": self.mongodb_url,
            "FABRIC_CATALOG_DB": self.catalog_db,
            "FABRIC_API_URL": "",
            "EXPORT_BASE_PATH": str(exports),
            "IMPORT_BASE_PATH": str(exports.parent / f"{exports.name}-imports"),
            "EXPORT_CONCURRENCY": str(self.args.concurrency),
            "MEDIA_ROOTS": "",
            "API_KEYS": "",
            "ENVIRONMENT": "development",
            "LOG_LEVEL": self.args.service_log_level,
            "WORKERS": "1",
        }

    def side_environment(self, side: str, database: str, exports: Path) -> dict[str, str]:
        env = self.environment(database, exports)
        if side == SCHED:
            env["REPO_EXPORT_CONCURRENCY"] = str(self.args.repo_cap)
        return env

    def run_scenario(self, side: str, load: str, processes: int, round_number: int) -> Measurement:
        number = len(self.databases)
        database = f"bench_{self.run_id}_{number}"
        self.databases.append(database)
        exports = self.workdir / f"exports-{number}"
        env = self.side_environment(side, database, exports)
        if side in (DURABLE, SCHED):
            argv = (
                shlex.split(self.args.service_command) if self.args.service_command else service_argv(self.args.profile)
            )
        else:
            argv = baseline_argv(self.args.profile, side)
        jobs = self.args.jobs if load == THROUGHPUT else self.args.light_jobs
        measurement = Measurement(side, load, processes, round_number, jobs)
        progress(f"{measurement.label}, {processes} process{'es' if processes > 1 else ''}: starting")
        started: list[BenchProcess] = []
        try:
            for index in range(processes):
                name = f"{number:02d}-{side}-{load}-{index}"
                profile_env = {"BENCH_PROFILE_OUT": str(self.workdir / f"{name}.commands.json")}
                process = BenchProcess(name, argv, {**env, **profile_env}, self.workdir / f"{name}.log", "/health")
                self.processes.append(process)
                started.append(process.start())
            asyncio.run(measure(self, measurement, started, database))
            self.keep_sample(side, exports)
        finally:
            for process in started:
                process.stop()
        if self.args.profile:
            measurement.commands = merged_commands(self.workdir, [process.name for process in started])
        progress(f"{measurement.label}, {processes} process{'es' if processes > 1 else ''}: {summary(measurement)}")
        return measurement

    def keep_sample(self, side: str, exports: Path) -> None:
        """One JSON file of each side, to check both wrote the same bytes."""
        if side in self.sample_files:
            return
        for path in sorted(exports.glob(f"*/{JSON_FILE.as_posix()}")):
            self.sample_files[side] = path.read_bytes()
            return


async def measure(bench: Bench, measurement: Measurement, processes: list[BenchProcess], database: str) -> None:
    args = bench.args
    urls = [process.url for process in processes]
    limits = httpx.Limits(max_connections=args.clients * 2, max_keepalive_connections=args.clients * 2)
    mongo: AsyncMongoClient = AsyncMongoClient(bench.mongodb_url, tz_aware=True)
    try:
        collection = mongo[database]["jobs"]
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            if args.warmup:
                warm = await submit_closed_loop(http, urls, args.warmup, args.clients, measurement.side)
                if not await wait_finished(collection, [s.job_id for s in warm], 120, "warm-up"):
                    raise BenchError("the warm-up jobs did not finish within 120 s")
            cpu_before = cpu_snapshot(bench, processes)
            if measurement.load == THROUGHPUT:
                submissions = await submit_closed_loop(http, urls, measurement.jobs, args.clients, measurement.side)
            else:
                submissions = await submit_open_loop(http, urls, measurement.jobs, args.light_rate, measurement.side)
        within = max(120.0, measurement.jobs * 1.5)
        finished = await wait_finished(collection, [s.job_id for s in submissions], within, "jobs")
        if not finished:
            measurement.note = f"not all finished within {within:g} s"
        cpu_after = cpu_snapshot(bench, processes)
        measurement.cpu_seconds = {name: cpu_after[name] - cpu_before[name] for name in cpu_before if name in cpu_after}
        await record(collection, submissions, measurement)
    finally:
        await mongo.close()


def cpu_snapshot(bench: Bench, processes: list[BenchProcess]) -> dict[str, float]:
    """CPU seconds used so far by the app processes (summed), the database server and this benchmark."""
    snapshot = {"bench": time.process_time()}
    app = [cpu_seconds(process.process.pid) for process in processes if process.process is not None]
    if app and None not in app:
        snapshot["app"] = sum(value for value in app if value is not None)
    database = cpu_seconds(bench.db_pid) if bench.db_pid is not None else None
    if database is not None:
        snapshot["db"] = database
    return snapshot


def merged_commands(workdir: Path, names: list[str]) -> dict[str, dict[str, float]]:
    """The command timings of a scenario's processes (bench/profile_service.py), added up by shape."""
    merged: dict[str, dict[str, float]] = {}
    for name in names:
        path = workdir / f"{name}.commands.json"
        if not path.exists():
            continue
        for shape, figures in json.loads(path.read_text()).items():
            total = merged.setdefault(shape, {"count": 0, "total_ms": 0.0, "median_ms": 0.0, "max_ms": 0.0})
            total["count"] += figures["count"]
            total["total_ms"] += figures["total_ms"]
            total["median_ms"] = max(total["median_ms"], figures["median_ms"])
            total["max_ms"] = max(total["max_ms"], figures["max_ms"])
    return merged


async def post(http: httpx.AsyncClient, url: str, body: dict[str, Any] = ORDER) -> Submission:
    sent = time.time()
    started = time.perf_counter()
    response = await http.post(url + "/spark", json=body)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 202:
        raise BenchError(f"POST {url}/spark answered {response.status_code}: {response.text[:300]}")
    return Submission(response.json()["spark_id"], sent, elapsed)


async def submit_closed_loop(
    http: httpx.AsyncClient, urls: list[str], jobs: int, clients: int, side: str = DURABLE
) -> list[Submission]:
    """`clients` clients POST back to back until `jobs` are accepted, round-robin over the processes."""
    numbers = itertools.count()
    submissions: list[Submission] = []

    async def client() -> None:
        while (number := next(numbers)) < jobs:
            submissions.append(await post(http, urls[number % len(urls)], order_for(side, number)))

    await asyncio.gather(*(client() for _ in range(clients)))
    return submissions


async def submit_open_loop(
    http: httpx.AsyncClient, urls: list[str], jobs: int, rate: float, side: str = DURABLE
) -> list[Submission]:
    """One POST every 1/rate seconds on a fixed schedule, whether or not earlier ones have answered."""
    start = time.perf_counter() + 0.05
    posts = []
    for number in range(jobs):
        delay = start + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        posts.append(asyncio.create_task(post(http, urls[number % len(urls)], order_for(side, number))))
    return list(await asyncio.gather(*posts))


async def wait_finished(collection: AsyncCollection, ids: list[str], within: float, what: str) -> bool:
    """Wait until every job has a final status, checking the oldest unfinished one by `_id` at a time.

    Lookups by `_id` alone are the only queries FerretDB answers without scanning the collection, so
    the wait costs both sides next to nothing, however large their job documents are.
    """
    deadline = time.monotonic() + within
    shown = time.monotonic()
    done = 0
    while done < len(ids):
        document = await collection.find_one({"_id": ids[done]}, {"status": 1})
        if document is not None and document.get("status") in FINISHED:
            done += 1
            continue
        if time.monotonic() > deadline:
            return False
        if time.monotonic() - shown > 5:
            progress(f"  ... {done}/{len(ids)} {what} finished")
            shown = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)
    return True


async def record(collection: AsyncCollection, submissions: list[Submission], measurement: Measurement) -> None:
    projection = {"status": 1, "created_at": 1, "started_at": 1, "completed_at": 1}
    documents = {
        document["_id"]: document
        async for document in collection.find({"_id": {"$in": [s.job_id for s in submissions]}}, projection)
    }
    first_sent = min(s.sent for s in submissions)
    last_completed: float | None = None
    for submission in submissions:
        measurement.post_ms.append(submission.post_ms)
        document = documents.get(submission.job_id, {})
        status = document.get("status")
        if status != "completed":
            measurement.failed += status in FINISHED
            continue
        measurement.completed += 1
        completed = _epoch(document["completed_at"])
        last_completed = max(last_completed or completed, completed)
        measurement.latencies_ms.append((completed - submission.sent) * 1000)
        if document.get("started_at") is not None:
            started = _epoch(document["started_at"])
            measurement.wait_ms.append((started - _epoch(document["created_at"])) * 1000)
            measurement.run_ms.append((completed - started) * 1000)
    if last_completed is not None:
        measurement.seconds = last_completed - first_sent


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


# --- output ------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def summary(measurement: Measurement) -> str:
    rate = measurement.jobs_per_second
    p50, p99 = percentile(measurement.latencies_ms, 50), percentile(measurement.latencies_ms, 99)
    text = (
        f"{measurement.completed}/{measurement.jobs} completed in {_number(measurement.seconds, 2)} s = "
        f"{_number(rate, 1)} jobs/s; p50 {_number(p50, 0)} ms, p99 {_number(p99, 0)} ms"
    )
    if measurement.failed:
        text += f"; {measurement.failed} FAILED"
    return text + (f" ({measurement.note})" if measurement.note else "")


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


@dataclass
class Row:
    """One line of the table: a single run, or the median of the repeated runs of a scenario."""

    label: str
    side: str
    load: str
    processes: int
    jobs: int
    seconds: float | None
    jobs_per_second: float | None
    latencies_ms: list[float]
    post_ms: list[float]
    wait_ms: list[float]
    run_ms: list[float]
    not_completed: int
    cpu_ms_per_job: dict[str, float]
    round: int | None = None
    ratio: float | None = None  # to the bare baseline
    ratio_bg: float | None = None  # to the service with BackgroundTasks


def rows_of(measurements: list[Measurement], combine: bool) -> list[Row]:
    groups: dict[tuple[str, str, int, int], list[Measurement]] = {}
    for m in measurements:
        groups.setdefault((m.load, m.side, m.processes, 0 if combine else m.round), []).append(m)
    rows = []
    for (load, side, processes, round_number), group in sorted(groups.items(), key=_row_order):
        label = group[0].label + ("" if combine else f" #{round_number + 1}")
        if combine and len(group) > 1:
            label += f" (median of {len(group)})"
        rows.append(
            Row(
                label=label,
                side=side,
                load=load,
                processes=processes,
                jobs=group[0].jobs,
                seconds=_median([m.seconds for m in group]),
                jobs_per_second=_median([m.jobs_per_second for m in group]),
                latencies_ms=[value for m in group for value in m.latencies_ms],
                post_ms=[value for m in group for value in m.post_ms],
                wait_ms=[value for m in group for value in m.wait_ms],
                run_ms=[value for m in group for value in m.run_ms],
                not_completed=sum(m.jobs - m.completed for m in group),
                cpu_ms_per_job={
                    name: statistics.median(m.cpu_seconds[name] * 1000 / m.jobs for m in group)
                    for name in ("app", "db", "bench")
                    if all(name in m.cpu_seconds for m in group)
                },
                round=None if combine else round_number,
            )
        )
    for row in rows:
        if row.load != THROUGHPUT or row.jobs_per_second is None:
            continue
        row.ratio = _ratio(row, _partner(rows, row, BASELINE))
        row.ratio_bg = _ratio(row, _partner(rows, row, BG_SERVICE))
    return rows


def _partner(rows: list[Row], row: Row, side: str) -> Row | None:
    """The same scenario's row on another side."""
    return next(
        (
            other
            for other in rows
            if other.side == side
            and other.load == row.load
            and other.processes == row.processes
            and other.round == row.round
        ),
        None,
    )


def _ratio(row: Row, other: Row | None) -> float | None:
    if other is None or not other.jobs_per_second or row.jobs_per_second is None:
        return None
    return row.jobs_per_second / other.jobs_per_second


def _row_order(item: tuple[tuple[str, str, int, int], list[Measurement]]) -> tuple[int, int, int, int]:
    load, side, processes, round_number = item[0]
    return (0 if load == THROUGHPUT else 1, processes, round_number, SIDES.index(side))


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def table(rows: list[Row]) -> str:
    header = ["scenario", "processes", "jobs", "seconds", "jobs/s", "× baseline", "× bg-service", "p50 ms", "p99 ms"]
    lines = [
        [
            row.label,
            str(row.processes),
            str(row.jobs),
            _number(row.seconds, 2),
            _number(row.jobs_per_second, 1),
            _number(row.ratio, 2),
            _number(row.ratio_bg, 2),
            _number(percentile(row.latencies_ms, 50), 0),
            _number(percentile(row.latencies_ms, 99), 0),
        ]
        for row in rows
    ]
    return _render(header, lines)


def details(rows: list[Row]) -> str:
    header = [
        "scenario",
        "processes",
        "POST p50 ms",
        "POST p99 ms",
        "queued p50 ms (created→started)",
        "run p50 ms (started→completed)",
        "app CPU ms/job",
        "db CPU ms/job",
        "bench CPU ms/job",
        "not completed",
    ]
    lines = [
        [
            row.label,
            str(row.processes),
            _number(percentile(row.post_ms, 50), 1),
            _number(percentile(row.post_ms, 99), 1),
            _number(percentile(row.wait_ms, 50), 0),
            _number(percentile(row.run_ms, 50), 0),
            *(_number(row.cpu_ms_per_job.get(name), 1) for name in ("app", "db", "bench")),
            str(row.not_completed),
        ]
        for row in rows
    ]
    return _render(header, lines)


def _render(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(cells) for cells in lines)])


def profile_report(measurements: list[Measurement], warmup: int) -> str:
    """Per scenario, the MongoDB commands the apps sent, by shape, costliest first (whole process life)."""
    parts = []
    for m in measurements:
        if not m.commands:
            continue
        jobs = m.jobs + warmup
        header = ["command shape", "count", "per job", "median ms", "max ms", "total ms"]
        lines = [
            [
                name,
                str(int(figures["count"])),
                f"{figures['count'] / jobs:.2f}",
                f"{figures['median_ms']:.2f}",
                f"{figures['max_ms']:.1f}",
                f"{figures['total_ms']:.0f}",
            ]
            for name, figures in sorted(m.commands.items(), key=lambda item: -item[1]["total_ms"])
        ]
        title = f"MongoDB commands: {m.label}, {m.processes} process(es), {jobs} jobs with warm-up"
        parts.append(title + "\n" + _render(header, lines))
    return "\n\n".join(parts)


def verdict(rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        if row.side != DURABLE or row.load != THROUGHPUT:
            continue
        processes = f"{row.processes} process{'es' if row.processes > 1 else ''}"
        for ratio, name in ((row.ratio, "baseline"), (row.ratio_bg, "bg-service")):
            if ratio is None:
                lines.append(f"  {processes}: no {name} to compare with")
                continue
            met = "MET" if ratio >= TARGET_RATIO else "MISSED"
            lines.append(
                f"  {processes}: durable {row.jobs_per_second:.1f} jobs/s = {ratio:.2f} × {name}"
                f" → target (≥ {TARGET_RATIO} × {name}) {met}"
            )
    return lines


# --- set-up and tear-down ----------------------------------------------------------------------------


def describe_server(url: str, embedded: bool) -> str:
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        info = client.admin.command("buildInfo")
    if "ferretdbVersion" in info or embedded:
        version = info.get("ferretdbVersion", "unknown")
        if version == "unknown" and embedded:
            version = _pinned_ferretdb() + " (tools/ferretdb/go.mod)"
        where = "embedded, SQLite backend, temporary folder" if embedded else "MONGODB_URL"
        return f"FerretDB {version} ({where}; wire version of MongoDB {info.get('version')})"
    hosts = ", ".join(f"{host}:{port}" for host, port in uri_parser.parse_uri(url)["nodelist"])
    return f"MongoDB {info.get('version')} from MONGODB_URL ({hosts})"


def _pinned_ferretdb() -> str:
    go_mod = (Path(__file__).resolve().parents[1] / "tools" / "ferretdb" / "go.mod").read_text()
    for line in go_mod.splitlines():
        if line.strip().startswith("require github.com/FerretDB/FerretDB "):
            return line.split()[-1]
    return "v1"


def load_catalog(url: str, database: str, events: int) -> None:
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        for repo in SCHED_REPOS:  # the first is every side's; the others the scheduled side's
            client[database][CATALOG_COLLECTION].insert_many(synthetic_events(repo, FULL_PATH, events))


def drop_databases(url: str, names: list[str]) -> None:
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        for name in names:
            client.drop_database(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per throughput run (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (default 4)")
    parser.add_argument("--concurrency", type=int, default=2, help="EXPORT_CONCURRENCY per process (default 2)")
    parser.add_argument("--light-jobs", type=int, default=50, help="jobs per light-load run (default 50)")
    parser.add_argument("--light-rate", type=float, default=5.0, help="POSTs per second under light load")
    parser.add_argument("--warmup", type=int, default=4, help="warm-up jobs per scenario, not measured")
    parser.add_argument("--events", type=int, default=20, help="catalog events of the tiny asset")
    parser.add_argument("--processes", default="1,2", help="process counts to run, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each reverses the order of the sides")
    parser.add_argument("--loads", default="throughput,light", help="throughput, light or both")
    parser.add_argument("--service-log-level", default="INFO", help="LOG_LEVEL of the service (default INFO)")
    parser.add_argument(
        "--profile", action="store_true", help="time every MongoDB command of the apps (bench/profile_service.py)"
    )
    parser.add_argument(
        "--service-command",
        help="start the durable side with this command instead of `python main.py` (e.g. to compare a variant)",
    )
    parser.add_argument(
        "--db-pid", type=int, help="PID of the MONGODB_URL server when it runs on this machine, to report its CPU"
    )
    parser.add_argument(
        "--repo-cap", type=int, default=2, help="REPO_EXPORT_CONCURRENCY of the durable-sched side (default 2)"
    )
    parser.add_argument(
        "--sides", default=",".join(SIDES), help=f"sides to run, comma-separated (default {','.join(SIDES)})"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, exports)")
    args = parser.parse_args(argv)
    args.process_counts = [int(part) for part in args.processes.split(",") if part.strip()]
    args.load_list = [part.strip() for part in args.loads.split(",") if part.strip()]
    args.side_list = [side for side in SIDES if side in {part.strip() for part in args.sides.split(",")}]
    if not set(args.load_list) <= {THROUGHPUT, LIGHT}:
        parser.error("--loads takes throughput, light or both")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="ai-spark-jobs-bench-"))
    external = os.environ.get("MONGODB_URL")
    server: EmbeddedMongo | None = None
    bench: Bench | None = None
    try:
        if external:
            url = external
        else:
            progress("starting the embedded FerretDB")
            server = EmbeddedMongo(workdir / "ferretdb" / "data", log_path=workdir / "ferretdb.log").start()
            url = server.url
        bench = Bench(args, workdir, url, describe_server(url, embedded=server is not None), "")
        bench.db_pid = server.process.pid if server is not None and server.process is not None else args.db_pid
        bench.catalog_db = f"bench_{bench.run_id}_catalog"
        bench.databases.append(bench.catalog_db)
        load_catalog(url, bench.catalog_db, args.events)
        progress(f"database: {bench.database_label}")
        progress(f"work folder: {workdir}")
        measurements = run_rounds(bench)
        report(bench, measurements)
        return 0
    except KeyboardInterrupt:
        progress("interrupted; stopping everything")
        return 130
    finally:
        if bench is not None:
            for process in bench.processes:
                process.stop(grace=10)
            if external:
                drop_databases(url, bench.databases)
        if server is not None:
            server.stop()
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_rounds(bench: Bench) -> list[Measurement]:
    measurements = []
    for round_number in range(bench.args.repeat):
        chosen = tuple(bench.args.side_list)
        sides = chosen[::-1] if round_number % 2 == 0 else chosen
        progress(f"round {round_number + 1} of {bench.args.repeat}: {sides[0]} first")
        for processes in bench.args.process_counts:
            for load in bench.args.load_list:
                for side in sides:
                    measurements.append(bench.run_scenario(side, load, processes, round_number))
    return measurements


def report(bench: Bench, measurements: list[Measurement]) -> None:
    args = bench.args
    print()
    print("AI Spark — durable jobs vs. FastAPI BackgroundTasks (bench/jobs_bench.py)")
    print(f"database: {bench.database_label}")
    print(
        f"tiny export: 1 data type (events, {args.events} catalog events), formats [json], llm_instructions false; "
        f"EXPORT_CONCURRENCY={args.concurrency} per process; throughput: {args.jobs} jobs from {args.clients} "
        f"HTTP clients; light load: {args.light_jobs} jobs at {args.light_rate:g}/s; {args.warmup} warm-up jobs "
        f"per scenario left out; service LOG_LEVEL={args.service_log_level}"
    )
    if args.service_command:
        print(f"durable side started with: {args.service_command}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("jobs/s: completed jobs / (first POST sent → last completed_at); p50/p99: POST sent → completed_at.")
    print("Throughput rows' latencies include the time spent queued behind the other jobs.")
    if args.repeat > 1:
        print("\nruns:")
        print(table(rows_of(measurements, combine=False)))
    combined = rows_of(measurements, combine=True)
    print()
    print(table(combined))
    print()
    print(details(combined))
    print()
    print(f"target: durable throughput ≥ {TARGET_RATIO} × baseline")
    for line in verdict(combined):
        print(line)
    if args.profile:
        print()
        print(profile_report(measurements, args.warmup))
    samples = bench.sample_files
    for side in (BASELINE, BG_SERVICE):
        if DURABLE in samples and side in samples:
            same = "identical" if samples[DURABLE] == samples[side] else "DIFFERENT"
            print(f"output check: the service's and {side}'s {JSON_FILE.as_posix()} are {same} byte for byte")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
