"""Putting a finished job back to work (SPEC §3, §7): the mechanics the retry routes share.

`requeue` turns a `failed`, `cancelled` or `partially_completed` job back into a `pending` one, as
a new round of attempts: its run history stays, the retry is added to `retries` (when, from which
status, with which error), and `attempts` starts again from 0, so the retried job gets a fresh
`MAX_ATTEMPTS` budget (a job that had used up its budget would otherwise fail again on its first
transient error). The change is one conditional update on the status and `updated_at` read just
before, so two retries of one job (or a retry racing the retention sweep, which marks a job
`deleting` first) never both win. `find_retryable` counts and lists the jobs of a filter, oldest
first, for the bulk route.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.db import Database
from shared.jobs import Job, JobStatus, count_jobs, is_job_id, jobs, queued_progress, utc_now
from shared.priority import HIGH, level, queue_key
from shared.problems import Conflict, NotFound
from shared.queue_control import note_jump_or_warn

# `partially_completed` (an import some of whose batches failed) too: re-sending what Fabric has not
# accepted is what an import retry is for, and only such an import has accepted batches to skip.
RETRYABLE = (JobStatus.failed, JobStatus.cancelled, JobStatus.partially_completed)
REQUEUE_TRIES = 3


@dataclass(frozen=True)
class RequeueOutcome:
    """`requeued` (the job is pending again), `not_retryable` (its status does not allow it),
    `deleting` (retention is deleting it), or `missing` (no such job)."""

    effect: str
    job: Job | None = None


async def requeue(database: Database, kind: str, job_id: str, aging_seconds: float) -> RequeueOutcome:
    """Back to `pending` as a new round of attempts, if the job is failed, cancelled or partially completed.
    It queues again from now at its priority (`aging_seconds` is PRIORITY_AGING_SECONDS): a retried job
    waits behind the jobs queued before its retry instead of jumping them with its old place."""
    if not is_job_id(job_id):
        return RequeueOutcome("missing")
    collection = jobs(database)
    for _ in range(REQUEUE_TRIES):
        current = await collection.find_one({"_id": job_id, "kind": kind})
        if current is None:
            return RequeueOutcome("missing")
        job = Job.model_validate_doc(current)
        if current.get("deleting"):
            return RequeueOutcome("deleting", job)
        if job.status not in RETRYABLE:
            return RequeueOutcome("not_retryable", job)
        now = utc_now()
        outcome = await collection.update_one(
            {"_id": job.id, "status": job.status, "updated_at": job.updated_at, "deleting": {"$ne": True}},
            _requeue_update(job, now, aging_seconds),
        )
        if outcome.matched_count == 1:
            if level(job.priority) == HIGH:  # runners holding queued jobs in memory must look again
                await note_jump_or_warn(database, kind, job.id)
            changed = await collection.find_one({"_id": job.id})
            return RequeueOutcome("requeued", Job.model_validate_doc(changed) if changed else job)
    # It kept changing under us: someone else is acting on it; say what it is now.
    latest = await collection.find_one({"_id": job_id, "kind": kind})
    return RequeueOutcome("not_retryable", Job.model_validate_doc(latest)) if latest else RequeueOutcome("missing")


async def requeue_or_problem(
    database: Database, kind: str, job_id: str, aging_seconds: float, noun: str, retryable: str
) -> Job:
    """`requeue` for a retry route: the job back in `pending`, or the problem that says why not (404 for
    no such job; 409 for one being deleted by retention or whose status, not `retryable`, allows none)."""
    outcome = await requeue(database, kind, job_id, aging_seconds)
    if outcome.effect == "missing" or outcome.job is None:
        raise NotFound(f"no {noun} with id {job_id}")
    if outcome.effect == "deleting":
        raise Conflict(f"{noun} {job_id} is being deleted by retention", slug="job-being-deleted")
    if outcome.effect != "requeued":
        status = outcome.job.status.value
        raise Conflict(
            f"{noun} {job_id} is {status}; only a {retryable} {noun} can be retried", slug="job-not-retryable"
        )
    return outcome.job


def _requeue_update(job: Job, now: Any, aging_seconds: float) -> dict[str, Any]:
    # `started_at` is left as it is: a job never claimed keeps None, which is what lets a process that
    # still holds the job's document as inserted claim it from that copy (`leases._claim_fresh`).
    return {
        "$set": {
            "status": JobStatus.pending,
            "not_before": now,
            "queue_key": queue_key(job.priority, now, aging_seconds),
            "updated_at": now,
            "completed_at": None,
            "lease_token": None,
            "lease_expires": None,
            "cancel_requested": False,
            "error": None,
            "errors": [],
            "progress": {**queued_progress(), "step": "queued (retried)"},
            "attempts": 0,
        },
        "$push": {"retries": {"requested_at": now, "from_status": job.status.value, "error": job.error}},
    }


@dataclass(frozen=True)
class RetryableJobs:
    total: int
    ids: list[tuple[str, str]]  # (kind, id), oldest first


async def find_retryable(database: Database, conditions: Mapping[str, Any], limit: int) -> RetryableJobs:
    """How many jobs match `conditions` (narrowed to retryable statuses), and the first `limit` of
    them, oldest first. The caller's conditions may name `status` among the retryable ones only."""
    scope = {"status": {"$in": list(RETRYABLE)}, **conditions, "deleting": {"$ne": True}}
    collection = jobs(database)
    total = await count_jobs(database, scope)
    cursor = collection.find(scope, projection={"kind": 1}).sort([("created_at", 1), ("_id", 1)]).limit(limit)
    found = await cursor.to_list(length=limit)
    return RetryableJobs(total=total, ids=[(document["kind"], document["_id"]) for document in found])
