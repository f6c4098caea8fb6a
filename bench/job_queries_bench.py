"""How long the job list and the overview's numbers take with many jobs of one repository.

    .venv/bin/python -m bench.job_queries_bench [--jobs 10000] [--runs 20]

Stores `--jobs` jobs of one repository (exports and imports, mostly finished, each with a work order,
a run and a small manifest, like real ones) plus a few of other repositories, creates the service's
indexes, then times `shared.job_search.search_jobs` for the console's usual filters (a first page and
a later one) and `shared.job_stats.compute_job_stats` (uncached), printing p50 and p99 in ms. The
database is the embedded FerretDB (started here) unless `MONGODB_URL` is set; on the embedded one the
same queries are timed in the same run on a second server started with `-no-pushdown` (FerretDB
counting, sorting and limiting in Go, as upstream does), so the table shows before and after side by
side (`--runs-without` runs each there: they take seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.db import connect
from shared.job_search import JobFilter, search_jobs
from shared.job_stats import compute_job_stats
from shared.jobs import INDEXES, jobs, new_job_id, utc_now
from shared.settings import load_settings
from tools.embedded_mongo import EmbeddedMongo

REPO = "bench-console-repo"
STATUSES = ["completed"] * 7 + ["failed", "cancelled", "pending"]


def job_document(number: int, repo_guid: str, now: Any) -> dict[str, Any]:
    kind = "import" if number % 5 == 0 else "export"
    status = STATUSES[number % len(STATUSES)]
    created = now - timedelta(seconds=30 * number)
    job_id = new_job_id()
    payload: dict[str, Any] = (
        {"asset": {"repo_guid": repo_guid, "fullPath": f"/{repo_guid}/clip-{number}.mov"}, "tag": "bench"}
        if kind == "import"
        else {
            "repo_guid": repo_guid,
            "inputs": {"full_path": f"/{repo_guid}/clip-{number}.mov"},
            "outputs": {name: {"formats": ["json", "srt", "vtt", "edl"]} for name in ("events", "markers")},
            "media": {"frame_rate": "25"},
        }
    )
    finished = status in {"completed", "failed", "cancelled"}
    return {
        "_id": job_id,
        "kind": kind,
        "repo_guid": repo_guid,
        "status": status,
        "created_at": created,
        "updated_at": created,
        "started_at": created if status != "pending" else None,
        "completed_at": created + timedelta(seconds=5) if finished else None,
        "not_before": created,
        "priority": "normal",
        "queue_key": created,
        "attempts": 1,
        "lease_token": None,
        "lease_expires": None,
        "worker_id": "bench:1",
        "cancel_requested": False,
        "progress": {"percent": 100 if finished else 0, "step": "done" if finished else "queued"},
        "error": "Fabric answered 503: busy" if status == "failed" else None,
        "errors": [],
        "runs": [{"attempt": 1, "worker_id": "bench:1", "started_at": created, "ended_at": created, "outcome": status}],
        "retries": [],
        "idempotency_key": f"{kind}:id:{job_id}",
        "request_hash": "0" * 64,
        "payload": payload,
        "result": {"manifest": {"artifacts": [{"path": f"events/events.{n}.json", "bytes": 1234} for n in range(8)]}},
    }


async def timed(runs: int, call: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    await call()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.99 * len(samples)))]


async def measure(mongodb_url: str, count: int, runs: int) -> list[tuple[str, float, float]]:
    settings = load_settings(_env_file=None, mongodb_url=mongodb_url, mongodb_db_name="job_queries_bench")
    database = connect(settings)
    try:
        await database.client.drop_database("job_queries_bench")
        await database.ensure_indexes(INDEXES)
        now = utc_now()
        documents = [job_document(n, REPO, now) for n in range(count)]
        documents += [job_document(n, f"other-{n % 7}", now) for n in range(200)]
        for start in range(0, len(documents), 500):
            await jobs(database).insert_many(documents[start : start + 500])
        first = await search_jobs(database, JobFilter(repo_guid=REPO), 50, None)
        cases: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("list: repo, first page of 50", lambda: search_jobs(database, JobFilter(repo_guid=REPO), 50, None)),
            (
                "list: repo, second page",
                lambda: search_jobs(database, JobFilter(repo_guid=REPO), 50, first.next_cursor),
            ),
            ("list: no filter", lambda: search_jobs(database, JobFilter(), 50, None)),
            (
                "list: repo + kind + failed",
                lambda: search_jobs(database, JobFilter(kind="export", repo_guid=REPO, statuses=("failed",)), 50, None),
            ),
            ("list: repo + text", lambda: search_jobs(database, JobFilter(repo_guid=REPO, text="clip-99"), 50, None)),
            ("stats (uncached)", lambda: compute_job_stats(database)),
        ]
        return [(name, *await timed(runs, call)) for name, call in cases]
    finally:
        await database.client.drop_database("job_queries_bench")
        await database.close()


def measure_embedded(folder: Path, pushdown: bool, count: int, runs: int) -> list[tuple[str, float, float]]:
    name = "pushdown" if pushdown else "no-pushdown"
    server = EmbeddedMongo(folder / name, pushdown=pushdown).start()
    try:
        return asyncio.run(measure(server.url, count, runs))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--runs-without", type=int, default=3, help="runs on the -no-pushdown server")
    args = parser.parse_args(argv)
    external = os.environ.get("MONGODB_URL")
    if external:
        rows = asyncio.run(measure(external, args.jobs, args.runs))
        print(f"{args.jobs} jobs of one repository on MONGODB_URL, {args.runs} runs each")
        print(f"{'query':<32} {'p50 ms':>8} {'p99 ms':>8}")
        for name, p50, p99 in rows:
            print(f"{name:<32} {p50:>8.1f} {p99:>8.1f}")
        return 0
    with tempfile.TemporaryDirectory(prefix="job-queries-bench-") as folder:
        without = measure_embedded(Path(folder), False, args.jobs, args.runs_without)
        with_pushdown = measure_embedded(Path(folder), True, args.jobs, args.runs)
    print(
        f"{args.jobs} jobs of one repository on the embedded FerretDB; -no-pushdown {args.runs_without} runs"
        f" each, with our pushdowns {args.runs} runs each (one run of this bench)"
    )
    print(f"{'query':<32} {'without p50':>12} {'p99':>9} {'with p50':>10} {'p99':>8}")
    for (name, before50, before99), (_, after50, after99) in zip(without, with_pushdown, strict=True):
        print(f"{name:<32} {before50:>12.1f} {before99:>9.1f} {after50:>10.1f} {after99:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
