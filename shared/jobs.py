"""Job documents and the mechanics that keep them from ever being lost (SPEC §7). No business logic.

A job is stored `pending` before its 202 is sent. A worker *claims* it with one atomic
`find_one_and_update` that gives it a new lease token; every later write of that run (heartbeat,
progress, result, status) is matched on `{_id, lease_token}`. A worker that stalls past its lease
and wakes up finds its writes matching nothing: the run that replaced it is safe. A job whose
worker died has a lease that expires, and any process claims it again.

Exports and imports share one collection (`kind` tells them apart) so one runner and one set of
indexes serve both. Only single-document atomic operations are used: they behave the same on
MongoDB and on FerretDB, which has no transactions or pipeline updates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from odmantic import Field, Model
from odmantic.config import ODMConfigDict
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.db import Database
from shared.priority import DEFAULT_PRIORITY, queue_key
from shared.problems import Conflict, Problem

JOBS_COLLECTION = "jobs"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
INDEX_WAIT_SECONDS = 5.0


class JobStatus(StrEnum):
    pending = "pending"
    processing = "processing"
    completed = "completed"
    partially_completed = "partially_completed"
    failed = "failed"
    cancelled = "cancelled"


FINISHED = frozenset({JobStatus.completed, JobStatus.partially_completed, JobStatus.failed, JobStatus.cancelled})


def queued_progress() -> dict[str, Any]:
    return {"percent": 0, "step": "queued"}


class Job(Model):
    """One export or import job. `payload` is the request as validated; `result` is the processor's."""

    model_config = ODMConfigDict(collection=JOBS_COLLECTION)

    id: str = Field(primary_field=True)
    kind: str
    repo_guid: str
    status: JobStatus = JobStatus.pending
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    not_before: datetime
    # Its place in the queue (`shared/priority.py`): claims take the smallest first.
    priority: str = DEFAULT_PRIORITY
    queue_key: datetime | None = None
    attempts: int = 0
    lease_token: str | None = None
    lease_expires: datetime | None = None
    worker_id: str | None = None
    cancel_requested: bool = False
    progress: dict[str, Any] = Field(default_factory=queued_progress)
    error: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    runs: list[dict[str, Any]] = Field(default_factory=list)
    # Manual retries (`requeue`), oldest first: when, from which status, with which error.
    retries: list[dict[str, Any]] = Field(default_factory=list)
    idempotency_key: str
    request_hash: str
    payload: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


INDEXES: dict[str, list[IndexModel]] = {
    JOBS_COLLECTION: [
        # Claims: pending jobs in queue order (priority with aging, `shared/priority.py`); `not_before`
        # is checked on the way, since only retries waiting out their backoff have it in the future.
        # The look for expired leases uses its `{kind, status: processing}` prefix too: processing
        # jobs are few (the live slots, and the jobs of workers that died), so an index of its own
        # only made every job write dearer.
        IndexModel([("kind", ASCENDING), ("status", ASCENDING), ("queue_key", ASCENDING)], name="claim_queue"),
        # Lists: one repository's jobs, newest first, with a stable tie-break on the id.
        IndexModel(
            [("kind", ASCENDING), ("repo_guid", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)],
            name="list_by_repo",
        ),
        # The job list across kinds (`shared/job_search.py`): one repository's, and everyone's.
        IndexModel(
            [("repo_guid", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="list_any_kind_by_repo"
        ),
        IndexModel([("created_at", DESCENDING), ("_id", DESCENDING)], name="list_all"),
        # The overview's last hour (`shared/job_stats.py`): jobs of a kind and status finished since then.
        IndexModel([("kind", ASCENDING), ("status", ASCENDING), ("completed_at", ASCENDING)], name="finished_since"),
        # Every job has a key (its own id when the client sent none), because FerretDB ignores `sparse`.
        IndexModel([("idempotency_key", ASCENDING)], name="idempotency_key", unique=True),
    ]
}


def utc_now() -> datetime:
    """Now, in UTC, cut to the millisecond MongoDB keeps, so stored and in-memory times compare equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_job_id() -> str:
    return str(uuid.uuid4())


def is_job_id(value: str) -> bool:
    """A well-formed UUID4 string; anything else cannot name a job (and is a 404, never a 500)."""
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return str(parsed) == value.lower() and parsed.version == 4


def request_fingerprint(payload: Any) -> str:
    """A stable hash of a request body, for `Idempotency-Key` replays."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def jobs(database: Database):
    return database.collection(JOBS_COLLECTION)


# --- submitting and reading ----------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    job: Job
    created: bool


async def submit_job(
    database: Database,
    kind: str,
    repo_guid: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
    result: dict[str, Any] | None = None,
    as_sent: Any = None,
    job_id: str | None = None,
    claimed: Mapping[str, Any] | None = None,
    priority: str = DEFAULT_PRIORITY,
    aging_seconds: float = 600.0,
) -> Submitted:
    """Store a new job, or return the first job stored under the same `Idempotency-Key`.

    The same key with another body is a 409; a key older than 24 hours is free again. `as_sent` is the
    body as the client sent it (defaults such as "now" left out), which is what a replay must match.
    `claimed` are the fields of a claim made by the insert itself (`shared.leases.Claim.at_insert`):
    the job is then stored `processing` under that lease, created the moment it was claimed.
    `priority` and `aging_seconds` (PRIORITY_AGING_SECONDS) give its place in the queue.
    """
    if not await database.indexes_ready(within=INDEX_WAIT_SECONDS):
        # Without the unique key index a replayed Idempotency-Key would store a second job.
        raise Problem("the database is not ready yet (creating indexes); retry shortly", status=503, slug="not-ready")
    request_hash = request_fingerprint(payload if as_sent is None else as_sent)
    job_id = job_id or new_job_id()
    key = f"{kind}:key:{idempotency_key}" if idempotency_key else f"{kind}:id:{job_id}"
    now = claimed["started_at"] if claimed else utc_now()
    job = Job(
        id=job_id,
        kind=kind,
        repo_guid=repo_guid,
        created_at=now,
        updated_at=now,
        not_before=now,
        priority=priority,
        queue_key=queue_key(priority, now, aging_seconds),
        idempotency_key=key,
        request_hash=request_hash,
        payload=payload,
        result=result or {},
    )
    if claimed:
        job = job.model_copy(update=claimed)
    for _ in range(3):
        try:
            await jobs(database).insert_one(job.model_dump_doc())
            return Submitted(job, created=True)
        except DuplicateKeyError:
            existing = await _job_with_key(database, key)
            if existing is None:
                continue
            if existing.created_at < now - IDEMPOTENCY_WINDOW:
                await _retire_key(database, existing)
                continue
            if existing.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was already used with a different body",
                    slug="idempotency-key-reused",
                ) from None
            return Submitted(existing, created=False)
    raise Conflict("this Idempotency-Key is being used by concurrent requests; retry", slug="idempotency-key-busy")


async def _job_with_key(database: Database, key: str) -> Job | None:
    document = await jobs(database).find_one({"idempotency_key": key})
    return Job.model_validate_doc(document) if document else None


async def _retire_key(database: Database, job: Job) -> None:
    await jobs(database).update_one(
        {"_id": job.id, "idempotency_key": job.idempotency_key},
        {"$set": {"idempotency_key": f"{job.idempotency_key}:expired:{job.id}"}},
    )


async def load_job(database: Database, kind: str, job_id: str) -> Job | None:
    if not is_job_id(job_id):
        return None
    document = await jobs(database).find_one({"_id": job_id.lower(), "kind": kind})
    return Job.model_validate_doc(document) if document else None


async def find_job_fields(database: Database, kind: str, job_id: str, fields: Sequence[str]) -> dict[str, Any]:
    """Only `fields` of one job (a status poll needs no work order or manifest), or a 404."""
    document = None
    if is_job_id(job_id):
        document = await jobs(database).find_one({"_id": job_id.lower(), "kind": kind}, projection=list(fields))
    if document is None:
        raise Problem(f"no {kind} with id {job_id}", status=404, slug="not-found")
    return document


async def load_job_or_404(database: Database, kind: str, job_id: str, noun: str) -> Job:
    job = await load_job(database, kind, job_id)
    if job is None:
        raise Problem(f"no {noun} with id {job_id}", status=404, slug="not-found")
    return job


@dataclass(frozen=True)
class JobPage:
    total: int
    jobs: list[dict[str, Any]]
    next_cursor: str | None


async def list_jobs(
    database: Database,
    kind: str,
    repo_guid: str,
    status: str | None,
    limit: int,
    cursor: str | None,
    fields: Sequence[str],
) -> JobPage:
    """One repository's jobs, newest first, as documents holding `fields` (and `_id`, `created_at`).

    The cursor names the last job seen, so jobs added meanwhile (always newer) never shift a page.
    Only the named fields travel: a list has no use for work orders, manifests or run histories.
    """
    scope: dict[str, Any] = {"kind": kind, "repo_guid": repo_guid}
    if status is not None:
        scope["status"] = status
    page_filter = dict(scope)
    if cursor is not None:
        created_at, last_id = decode_cursor(cursor)
        page_filter["$or"] = [
            {"created_at": {"$lt": created_at}},
            {"created_at": created_at, "_id": {"$lt": last_id}},
        ]
    collection = jobs(database)
    total = await count_jobs(database, scope)
    found = (
        await collection.find(page_filter, projection={name: 1 for name in (*fields, "created_at")})
        .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        .limit(limit + 1)
        .to_list(length=limit + 1)
    )
    page = found[:limit]
    next_cursor = encode_cursor(page[-1]["created_at"], page[-1]["_id"]) if len(found) > limit and page else None
    return JobPage(total=total, jobs=page, next_cursor=next_cursor)


async def count_jobs(database: Database, query: dict[str, Any]) -> int:
    """How many jobs match `query`, with the `count` command: on MongoDB as exact as `count_documents`
    for a query (and as quick, from an index), on FerretDB v1 half the time of `count_documents`'s
    aggregation (docs/decisions.md). Never `estimated_document_count`: it crashes FerretDB v1."""
    answer = await database.db.command({"count": JOBS_COLLECTION, "query": query})
    return int(answer["n"])


def encode_cursor(created_at: datetime, job_id: str) -> str:
    raw = f"{created_at.astimezone(UTC).isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        moment = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem("cursor is not one this service gave out", status=422, slug="bad-cursor") from None
    if moment.tzinfo is None or not is_job_id(job_id):
        raise Problem("cursor is not one this service gave out", status=422, slug="bad-cursor")
    return moment, job_id


@dataclass(frozen=True)
class CancelOutcome:
    job: Job
    effect: str  # "cancelled" (was pending), "flagged" (processing: stops at its next step), "finished"


async def request_cancel(database: Database, kind: str, job_id: str) -> CancelOutcome | None:
    """Pending → cancelled at once; processing → flagged for the processor's next step; a finished job
    is left as it is. None when there is no such job."""
    if not is_job_id(job_id):
        return None
    now = utc_now()
    collection = jobs(database)
    cancelled = await collection.find_one_and_update(
        {"_id": job_id, "kind": kind, "status": JobStatus.pending},
        {
            "$set": {
                "status": JobStatus.cancelled,
                "completed_at": now,
                "updated_at": now,
                "progress.step": "cancelled",
                "error": "cancelled before it started",
            }
        },
        return_document=ReturnDocument.AFTER,
    )
    if cancelled is not None:
        return CancelOutcome(Job.model_validate_doc(cancelled), "cancelled")
    flagged = await collection.find_one_and_update(
        {"_id": job_id, "kind": kind, "status": JobStatus.processing},
        {"$set": {"cancel_requested": True, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if flagged is not None:
        return CancelOutcome(Job.model_validate_doc(flagged), "flagged")
    current = await collection.find_one({"_id": job_id, "kind": kind})
    return CancelOutcome(Job.model_validate_doc(current), "finished") if current else None


async def queue_stats(database: Database) -> dict[str, Any]:
    """Queued jobs per kind and the age of the oldest pending one, for `/health` and `/metrics`."""
    collection = jobs(database)
    stats: dict[str, Any] = {"queued": {}, "oldest_pending_age_seconds": None}
    oldest: datetime | None = None
    for kind in ("export", "import"):
        scope = {"kind": kind, "status": JobStatus.pending}
        stats["queued"][kind] = await count_jobs(database, scope)
        first = await collection.find_one(scope, sort=[("not_before", ASCENDING)], projection={"created_at": 1})
        if first and (oldest is None or first["created_at"] < oldest):
            oldest = first["created_at"]
    if oldest is not None:
        stats["oldest_pending_age_seconds"] = round((utc_now() - oldest).total_seconds(), 3)
    return stats


async def job_counts(database: Database) -> dict[tuple[str, str], int]:
    """Jobs by (kind, status), in one pass over the collection.

    Counted here rather than with `$group`, which crashes FerretDB v1 with a compound `_id`.
    """
    counts: Counter[tuple[str, str]] = Counter()
    async for row in jobs(database).find({}, projection={"kind": 1, "status": 1, "_id": 0}):
        counts[(row["kind"], row["status"])] += 1
    return dict(counts)
