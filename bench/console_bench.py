"""Console benchmark: p50/p99 of the console's pages with 10,000 jobs of one repository.

    .venv/bin/python -m bench.console_bench [--jobs 10000] [--clients 8] [--requests 400]

One service process (`python main.py`, an API-only process: `EXPORT_CONCURRENCY=0`) on the embedded
FerretDB (or `MONGODB_URL`). 200 jobs are submitted through `POST /spark` (real documents: ids,
idempotency keys, queue keys) and copied up to `--jobs` with their own ids and times; most are then
marked finished as a busy repository's history is (completed with a manifest, failed with an error,
cancelled; the rest pending). Per route, `--clients` keep-alive clients send `--requests` requests back
to back after a warm-up (a route too slow to finish them stops after `--cap-seconds`) and the table
shows p50/p99. The list page is measured three ways: the same filter again and again (what polling
tabs do: they share one look per replica per second), a time filter no one asked for yet on every
request, and a text no job has on every request (the worst text search).
Target: p50 ≤ 100 ms for the list page and the overview.

A route this branch does not serve yet (404) is listed as such instead of measured: the console's
pages and the `/jobs` endpoints are built by other branches of issue 16.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench.processes import BenchProcess
from shared.jobs import JOBS_COLLECTION
from tools.embedded_mongo import EmbeddedMongo

REPO = "bench-console"
ORDER = {
    "repo_guid": REPO,
    "inputs": {"full_path": "/bench/clip.mov"},
    "outputs": {"markers": {"formats": ["json"]}, "comments": {"formats": ["json", "vtt"]}},
    "user_inputs": {"llm_instructions": False},
}
# (route label, path, target p50 in ms or None for a reference row). `{fresh}` in a path becomes a
# new value on every request: a filter no one asked for yet, which no shared look has answered.
ROUTES = [
    ("console list page", f"/console/jobs?repo_guid={REPO}", 100.0),
    ("  … a new filter each", f"/console/jobs?repo_guid={REPO}&created_before={{fresh}}", None),
    # Text is matched in the database's Go code on the embedded server (a case-insensitive regex):
    # a text no job has makes it read every job of the repository, the worst case.
    ("  … new text each", f"/console/jobs?repo_guid={REPO}&q={{fresh}}", None),
    ("console overview", "/console", 100.0),
    ("GET /jobs?repo_guid=", f"/jobs?repo_guid={REPO}", None),
    ("GET /jobs/stats", "/jobs/stats", None),
    ("GET /spark?repo_guid=", f"/spark?repo_guid={REPO}", None),
]
SHARES = [("completed", 0.70), ("failed", 0.15), ("cancelled", 0.05)]  # the rest stays pending
WARMUP = 16
REQUEST_TIMEOUT = 300.0  # seconds; a request still unanswered then is counted as a timeout
SUBMITTED = 200  # through the API; the rest are copies of these (10,000 POSTs take minutes)
# The size of a small package's manifest: a finished job's document carries one.
MANIFEST = {
    "spark_version": "1.0",
    "repo_guid": REPO,
    "full_path": "/bench/clip.mov",
    "frame_rate": "24000/1001",
    "drop_frame": False,
    "start_timecode": "01:00:00:00",
    "counts": {"transcript": 0, "events": 0, "comments": 12, "markers": 30, "selects": 0, "subclips": 0},
    "artifacts": [
        {
            "artifact_type": name,
            "format": fmt,
            "path": f"{name}/sdna_ai_spark_{name}.{fmt}",
            "size": 2048,
            "sha256": "0" * 64,
            "items": 30,
            "url": f"/spark/ID/artifacts/{name}/sdna_ai_spark_{name}.{fmt}",
        }
        for name, fmt in (("markers", "json"), ("comments", "json"), ("comments", "vtt"))
    ],
    "warnings": [],
}


@dataclass
class Result:
    label: str
    path: str
    target_ms: float | None
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    status: int | None = None  # the probe's status when the route is not served
    seconds: float = 0.0
    fresh: int = 0
    timeouts: int = 0  # of `errors`: no answer within REQUEST_TIMEOUT

    def next_path(self) -> str:
        if "{fresh}" not in self.path:
            return self.path
        self.fresh += 1
        moment = datetime(2100, 1, 1, tzinfo=UTC) + timedelta(seconds=self.fresh)
        return self.path.replace("{fresh}", moment.strftime("%Y-%m-%dT%H:%M:%S"))

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else float("nan")


def say(message: str) -> None:
    print(f"[console_bench] {message}", file=sys.stderr, flush=True)


async def submit_jobs(url: str, count: int, clients: int) -> None:
    submitted = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:

        async def client_loop() -> None:
            nonlocal submitted
            while submitted < count:
                submitted += 1
                response = await http.post("/spark", json=ORDER)
                response.raise_for_status()

        await asyncio.gather(*(client_loop() for _ in range(clients)))


def clone_jobs(mongodb_url: str, database: str, count: int) -> None:
    """Copies of the submitted jobs up to `count`, each with its own id and key, spread over 3 days."""
    with MongoClient(mongodb_url, tz_aware=True) as client:
        collection = client[database][JOBS_COLLECTION]
        templates = list(collection.find({"repo_guid": REPO}))
        missing = count - len(templates)
        batch: list[dict[str, Any]] = []
        for number in range(missing):
            job_id = str(uuid.uuid4())
            shift = timedelta(seconds=25 * (number + 1))
            template = templates[number % len(templates)]
            clone = {**template, "_id": job_id, "idempotency_key": f"export:id:{job_id}"}
            for name in ("created_at", "updated_at", "not_before", "queue_key"):
                if clone.get(name) is not None:
                    clone[name] = clone[name] - shift
            batch.append(clone)
            if len(batch) == 1000 or number == missing - 1:
                collection.insert_many(batch)
                batch = []


def spread_statuses(mongodb_url: str, database: str, count: int) -> dict[str, int]:
    """Most jobs finished, as a repository's history is, with what a finished job carries (its run, a
    manifest or an error); each share set by update_many."""
    now = datetime.now(UTC)
    counts: dict[str, int] = {}
    with MongoClient(mongodb_url, tz_aware=True) as client:
        collection = client[database][JOBS_COLLECTION]
        ids = [document["_id"] for document in collection.find({"repo_guid": REPO}, projection=["_id"])]
        start = 0
        for status, share in SHARES:
            chosen = ids[start : start + int(share * count)]
            start += len(chosen)
            run = {"attempt": 1, "retry": 0, "worker_id": "bench:1:000000", "started_at": now, "ended_at": now}
            fields: dict[str, object] = {
                "status": status,
                "started_at": now - timedelta(minutes=6),
                "completed_at": now - timedelta(minutes=5),
                "attempts": 1,
                "runs": [{**run, "outcome": status, "error": None, "traceback": None}],
            }
            if status == "failed":
                fields["error"] = "ffmpeg exited with 1: /bench/clip.mov: Invalid data found when processing input"
                fields["errors"] = [{"step": "media", "message": fields["error"]}]
            if status == "completed":
                fields["progress"] = {"percent": 100.0, "step": "completed"}
                package = {"path": "x.zip", "size": 4096, "sha256": "0" * 64}
                fields["result"] = {"manifest": MANIFEST, "package": package}
            for offset in range(0, len(chosen), 1000):
                collection.update_many({"_id": {"$in": chosen[offset : offset + 1000]}}, {"$set": fields})
            counts[status] = len(chosen)
        counts["pending"] = len(ids) - start
    return counts


async def measure(url: str, result: Result, clients: int, requests: int, cap_seconds: float) -> None:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=REQUEST_TIMEOUT) as http:
        probe_started = time.perf_counter()
        try:
            probe = await http.get(result.next_path())
        except httpx.TimeoutException:
            result.errors += 1
            result.timeouts += 1
            return
        if probe.status_code == 404:
            result.status = 404
            return
        for _ in range(WARMUP):
            if time.perf_counter() - probe_started > cap_seconds / 4:
                break
            await http.get(result.next_path())
        remaining = requests
        deadline = time.perf_counter() + cap_seconds

        async def client_loop() -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                try:
                    response = await http.get(result.next_path())
                except httpx.TimeoutException:
                    result.errors += 1
                    result.timeouts += 1
                    continue
                except httpx.TransportError:
                    result.errors += 1
                    continue
                if response.status_code >= 400:
                    result.errors += 1
                else:
                    result.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(clients)))
        result.seconds = time.perf_counter() - started


def table(results: list[Result], jobs: int, clients: int, label: str) -> str:
    lines = [
        f"Console benchmark: {jobs} jobs of one repository on {label}, {clients} clients",
        f"{'route':<22} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'target':>10}",
    ]
    for row in results:
        if row.status is not None:
            lines.append(f"{row.label:<22} {'not served on this branch (' + str(row.status) + ')':>55}")
            continue
        if not row.latencies and row.timeouts:
            lines.append(f"{row.label:<22} {f'all {row.timeouts} timed out (> {REQUEST_TIMEOUT:g} s)':>55}")
            continue
        rate = len(row.latencies) / row.seconds if row.seconds else float("nan")
        target = ""
        if row.target_ms is not None:
            target = "met" if row.percentile(0.5) <= row.target_ms and not row.errors else "missed"
        lines.append(
            f"{row.label:<22} {len(row.latencies):>9} {rate:>8.1f} {row.percentile(0.5):>8.1f}"
            f" {row.percentile(0.99):>8.1f} {row.errors:>7} {target:>10}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400, help="per route, after a warm-up")
    parser.add_argument("--cap-seconds", type=float, default=60.0, help="a slow route stops sending after this")
    args = parser.parse_args(argv)

    external = os.environ.get("MONGODB_URL")
    label = "MONGODB_URL" if external else "the embedded FerretDB"
    with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
        workdir = Path(folder)
        server = None if external else EmbeddedMongo(workdir / "ferretdb").start()
        mongodb_url = external or server.url  # type: ignore[union-attr]
        database = f"bench_console_{uuid.uuid4().hex[:8]}"
        env = {
            "MONGODB_URL": mongodb_url,
            "MONGODB_DB_NAME": database,
            "FABRIC_CATALOG_DB": database + "_catalog",
            "EXPORT_BASE_PATH": str(workdir / "exports"),
            "IMPORT_BASE_PATH": str(workdir / "imports"),
            "EXPORT_CONCURRENCY": "0",
            "IMPORT_CONCURRENCY": "0",
            "LOG_LEVEL": "WARNING",
            "ENVIRONMENT": "test",
        }
        process = BenchProcess("service", [sys.executable, "main.py"], env, workdir / "service.log", "/health")
        results = [Result(name, path, target) for name, path, target in ROUTES]
        try:
            process.start()
            started = time.perf_counter()
            asyncio.run(submit_jobs(process.url, min(args.jobs, SUBMITTED), args.clients))
            clone_jobs(mongodb_url, database, args.jobs)
            counts = spread_statuses(mongodb_url, database, args.jobs)
            say(f"seeded {args.jobs} jobs in {time.perf_counter() - started:.1f} s: {counts}")
            for result in results:
                asyncio.run(measure(process.url, result, args.clients, args.requests, args.cap_seconds))
                if result.status is None:
                    p50, p99 = result.percentile(0.5), result.percentile(0.99)
                    say(f"{result.label:<22} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  errors {result.errors}")
        finally:
            process.stop()
            with MongoClient(mongodb_url) as client:
                client.drop_database(database)
                client.drop_database(database + "_catalog")
            if server is not None:
                server.stop()
    print(table(results, args.jobs, args.clients, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
