"""The numbers of the jobs overview (SPEC §10), read from the database only.

So every replica shows the same numbers and a restart loses nothing: jobs by kind and status, the jobs
running now per worker (from the jobs' own `worker_id`), queue depth and the age of the oldest pending
job, and the last hour's completions, failures and throughput. `job_stats` is what routes and pages
call: one look per replica per `STATS_TTL_SECONDS`, however many clients poll (`shared/shared_look.py`);
an answer up to `STATS_MAX_STALE_SECONDS` old is served at once while the next look runs, so a slow
look (FerretDB with many jobs) keeps no poller waiting but the first. `generated_at` says when.

Every count is a `count` on `{kind, status}` (the prefix of the `claim_queue` index), not a
`$group`: FerretDB v1 crashes on a compound group `_id`, and the counts stay index lookups on MongoDB.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING

from shared.db import Database
from shared.jobs import JobStatus, count_jobs, jobs, utc_now
from shared.shared_look import SharedLook

KINDS = ("export", "import")
STATS_TTL_SECONDS = 1.0
# An answer up to this old is served at once while the next look runs (only the first caller waits).
STATS_MAX_STALE_SECONDS = 30.0
LAST_HOUR = timedelta(hours=1)
# Finished well: what throughput counts (an import some of whose batches failed did its run).
DONE = (JobStatus.completed, JobStatus.partially_completed)

_look: SharedLook[dict[str, Any]] = SharedLook(ttl=STATS_TTL_SECONDS, max_stale=STATS_MAX_STALE_SECONDS)


async def job_stats(database: Database) -> dict[str, Any]:
    """The overview's numbers (`compute_job_stats`), shared by every caller in this process for up to
    `STATS_TTL_SECONDS` (or, while the next look runs, `STATS_MAX_STALE_SECONDS`): many polling tabs cost
    one database look per interval. A copy: change it freely."""
    key = (id(database.client), database.db.name)
    return copy.deepcopy(await _look.get(key, lambda: compute_job_stats(database)))


async def compute_job_stats(database: Database) -> dict[str, Any]:
    """The overview's numbers, looked up now: see the module docstring for what each one is."""
    collection = jobs(database)
    now = utc_now()
    since = now - LAST_HOUR

    async def count(kind: str, status: str, finished_since: bool = False) -> int:
        query: dict[str, Any] = {"kind": kind, "status": status}
        if finished_since:
            query["completed_at"] = {"$gte": since}
        return await count_jobs(database, query)

    async def oldest_pending(kind: str) -> Any:
        # Ending on `_id` makes the order total, which also lets the embedded FerretDB sort in SQLite.
        first = await collection.find_one(
            {"kind": kind, "status": JobStatus.pending},
            sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
            projection={"created_at": 1},
        )
        return first["created_at"] if first else None

    async def running(kind: str) -> list[dict[str, Any]]:
        found = collection.find({"kind": kind, "status": JobStatus.processing}, projection={"worker_id": 1, "_id": 0})
        return await found.to_list()

    statuses = list(JobStatus)
    by_status = await asyncio.gather(*(count(kind, status) for kind in KINDS for status in statuses))
    done = await asyncio.gather(*(count(kind, status, True) for kind in KINDS for status in (*DONE, JobStatus.failed)))
    oldest = [moment for moment in await asyncio.gather(*(oldest_pending(kind) for kind in KINDS)) if moment]
    running_rows = await asyncio.gather(*(running(kind) for kind in KINDS))

    by_kind = {
        kind: {status.value: by_status[k * len(statuses) + s] for s, status in enumerate(statuses)}
        for k, kind in enumerate(KINDS)
    }
    per_worker: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    for kind, rows in zip(KINDS, running_rows, strict=True):
        for row in rows:
            per_worker[row.get("worker_id") or "unknown"][kind] += 1
    completed = {kind: done[k * 3] + done[k * 3 + 1] for k, kind in enumerate(KINDS)}
    failed = {kind: done[k * 3 + 2] for k, kind in enumerate(KINDS)}
    return {
        "generated_at": now,
        "by_kind": by_kind,
        "running_per_replica": [{"worker_id": worker, **per_worker[worker]} for worker in sorted(per_worker)],
        "queue": {
            "depth": {kind: by_kind[kind][JobStatus.pending.value] for kind in KINDS},
            "oldest_pending_age_seconds": round((now - min(oldest)).total_seconds(), 3) if oldest else None,
        },
        "last_hour": {
            "completed": completed,
            "failed": failed,
            "throughput_per_minute": round(sum(completed.values()) / (LAST_HOUR.total_seconds() / 60), 3),
        },
    }
