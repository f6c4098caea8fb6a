"""Finding jobs of both kinds by a filter (the job list, the console, bulk retry). No business rules.

A `JobFilter` is what a list shows and what a bulk retry acts on: `job_filter_query` turns it into one
MongoDB query, so "retry what the list shows" means exactly the same set of jobs. `search_jobs` pages
through it newest first with the cursors of `shared/jobs.py` (the last job seen, so jobs added
meanwhile never shift a page), and answers each job as a flat summary: no work orders, manifests or
run histories travel.

The text is matched case-insensitively, as a literal (never a pattern), in the job's id, its name (an
export's `inputs.full_path`; an import's `import_job_name`, else its `asset.fullPath`) and its error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING

from shared.db import Database
from shared.jobs import JobPage, count_jobs, decode_cursor, encode_cursor, jobs
from shared.priority import DEFAULT_PRIORITY
from shared.shared_look import SharedLook

# Where a job's name lives, by kind, first found wins: what a person calls the job in a list.
NAME_FIELDS = {
    "export": ("payload.inputs.full_path",),
    "import": ("payload.import_job_name", "payload.asset.fullPath"),
}
SUMMARY_PROJECTION = {
    name: 1
    for name in (
        "kind",
        "repo_guid",
        "status",
        "priority",
        *(field for fields in NAME_FIELDS.values() for field in fields),
        "progress.percent",
        "progress.step",
        "attempts",
        "created_at",
        "started_at",
        "completed_at",
        "error",
    )
}
NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]
SHARED_TTL_SECONDS = 1.0
SHARED_MAX_STALE_SECONDS = 30.0
_shared_pages: SharedLook[JobPage] = SharedLook(
    ttl=SHARED_TTL_SECONDS, max_stale=SHARED_MAX_STALE_SECONDS, max_keys=256
)


def in_utc_range(moment: datetime | None) -> datetime | None:
    """A filter's time, if the database can store it: one whose UTC reading falls before year 1 (say
    `0001-01-01T00:00:00+01:00`) cannot be encoded, so it is refused here, as the caller's 422."""
    if moment is None:
        return None
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range (years 1 to 9999 in UTC)") from None
    return moment


@dataclass(frozen=True)
class JobFilter:
    """Which jobs: each field set narrows the set; `statuses` empty means any status. `created_after`
    and `created_before` are exclusive bounds; `text` is a literal, matched case-insensitively."""

    kind: str | None = None
    statuses: tuple[str, ...] = ()
    repo_guid: str | None = None
    priority: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    text: str | None = None


def job_filter_query(f: JobFilter) -> dict[str, Any]:
    """The filter as one MongoDB query (conditions only; no sort, no cursor)."""
    query: dict[str, Any] = {}
    if f.kind is not None:
        query["kind"] = f.kind
    if f.repo_guid is not None:
        query["repo_guid"] = f.repo_guid
    if len(f.statuses) == 1:
        query["status"] = f.statuses[0]
    elif f.statuses:
        query["status"] = {"$in": list(dict.fromkeys(f.statuses))}
    if f.priority is not None:
        query["priority"] = f.priority
    created: dict[str, datetime] = {}
    if f.created_after is not None:
        created["$gt"] = f.created_after
    if f.created_before is not None:
        created["$lt"] = f.created_before
    if created:
        query["created_at"] = created
    if f.text:
        pattern = {"$regex": re.escape(f.text), "$options": "i"}
        kinds = [f.kind] if f.kind in NAME_FIELDS else list(NAME_FIELDS)
        names = [field for kind in kinds for field in NAME_FIELDS[kind]]
        query["$or"] = [{field: pattern} for field in ("_id", *names, "error")]
    return query


def _and(query: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    if not any(key in query for key in more):
        return {**query, **more}
    return {"$and": [query, more]}


async def search_jobs(database: Database, f: JobFilter, limit: int, cursor: str | None) -> JobPage:
    """The jobs of `f`, newest first, `limit` a page, as summaries (`job_summary`); `total` counts
    the whole filter. A cursor this service did not give out is a 422 problem."""
    query = job_filter_query(f)
    page_query = query
    if cursor is not None:
        created_at, last_id = decode_cursor(cursor)
        page_query = _and(
            query,
            {"$or": [{"created_at": {"$lt": created_at}}, {"created_at": created_at, "_id": {"$lt": last_id}}]},
        )
    total = await count_jobs(database, query)
    # One after the other: on the embedded FerretDB each reads every matching job, and on a busy
    # machine two at once took longer than one after the other (5.0 s against 3.5 s, 2,000 jobs).
    found = (
        await jobs(database)
        .find(page_query, projection=SUMMARY_PROJECTION)
        .sort(NEWEST_FIRST)
        .limit(limit + 1)
        .to_list(length=limit + 1)
    )
    page = found[:limit]
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["_id"]) if len(found) > limit and page else None
    return JobPage(total=total, jobs=[job_summary(document) for document in page], next_cursor=next_cursor)


async def search_jobs_shared(database: Database, f: JobFilter, limit: int, cursor: str | None) -> JobPage:
    """`search_jobs` for pages that poll (the console's live list): callers asking the same page within
    `SHARED_TTL_SECONDS` share one look, and an answer up to `SHARED_MAX_STALE_SECONDS` old is served at
    once while the next look runs (`shared/shared_look.py`), so many tabs on one list cost one look per
    replica per interval. The page is shared: treat it as read-only."""
    if cursor is not None:
        decode_cursor(cursor)  # a foreign cursor is the caller's 422, never a kept failure
    key = (id(database.client), database.db.name, f, limit, cursor)
    return await _shared_pages.get(key, lambda: search_jobs(database, f, limit, cursor))


def job_summary(document: dict[str, Any]) -> dict[str, Any]:
    """A job document (at least `SUMMARY_PROJECTION`) as the flat summary a list shows."""
    progress = document.get("progress") or {}
    return {
        "id": document["_id"],
        "kind": document["kind"],
        "repo_guid": document["repo_guid"],
        "status": document["status"],
        "priority": document.get("priority") or DEFAULT_PRIORITY,
        "name": _name(document),
        "progress_percent": progress.get("percent", 0),
        "progress_step": progress.get("step"),
        "attempts": document.get("attempts", 0),
        "created_at": document["created_at"],
        "started_at": document.get("started_at"),
        "completed_at": document.get("completed_at"),
        "error": document.get("error"),
    }


def _name(document: dict[str, Any]) -> str | None:
    for field in NAME_FIELDS.get(document["kind"], ()):
        value: Any = document
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None
