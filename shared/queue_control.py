"""Changing a waiting job's priority, and telling every replica that a job jumped the queue.

Runners keep the next candidates of each kind in memory (`shared/candidates.py`), in queue order as
their last look saw it. A job that arrives with a better place than those (a high job behind normal
ones, or a priority raised by `PATCH`) bumps the kind's counter in `job_queues`: one small write,
made only for such jobs. A runner reads the counter before it claims from memory (every claim while
its queue mixes priorities, else once a poll) and looks again when it moved, so the high job is the
next one any replica takes.
"""

from __future__ import annotations

import logging

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from shared.db import Database
from shared.jobs import Job, JobStatus, jobs, load_job_or_404, utc_now
from shared.priority import level, queue_key
from shared.problems import Conflict

log = logging.getLogger("ai_spark.jobs")

QUEUES_COLLECTION = "job_queues"


def queues(database: Database):
    return database.collection(QUEUES_COLLECTION)


async def read_jumps(database: Database, kind: str) -> int:
    """How many jobs of `kind` have jumped the queue so far (only its change matters)."""
    document = await queues(database).find_one({"_id": kind}, projection={"jumps": 1})
    return int(document.get("jumps", 0)) if document else 0


async def note_jump(database: Database, kind: str) -> int:
    """A job of `kind` now stands before jobs that runners may hold in memory; the new count."""
    document = await queues(database).find_one_and_update(
        {"_id": kind}, {"$inc": {"jumps": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    return int(document["jumps"])


async def note_jump_or_warn(database: Database, kind: str, job_id: str) -> None:
    """`note_jump` after a change that has already been made: failing to tell the other runners must
    not turn that change into an error, since their next look finds the job anyway."""
    try:
        await note_jump(database, kind)
    except PyMongoError as error:
        log.warning("cannot note a job that jumped the queue", extra={"job_id": job_id, "error": str(error)[:200]})


async def change_priority(
    database: Database, kind: str, job_id: str, priority: str, aging_seconds: float, noun: str
) -> Job:
    """Give a pending job another priority (and so another place in the queue); 404 for no such job,
    409 once it has left `pending`. Its wait so far still counts: the key is reckoned from its
    creation, as at its insert."""
    job = await load_job_or_404(database, kind, job_id, noun)
    if job.status != JobStatus.pending:
        raise _not_pending(noun, job.status)
    if job.priority == priority:
        return job
    # Queued since its last retry, if it had one: a retry queues a job again from then (`shared/retry.py`).
    since = job.retries[-1]["requested_at"] if job.retries else job.created_at
    changes = {"priority": priority, "queue_key": queue_key(priority, since, aging_seconds)}
    updated = await jobs(database).find_one_and_update(
        {"_id": job.id, "status": JobStatus.pending},
        {"$set": {**changes, "updated_at": utc_now()}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:  # claimed or cancelled since it was read
        raise _not_pending(noun, (await load_job_or_404(database, kind, job_id, noun)).status)
    if level(priority) > level(job.priority):
        await note_jump_or_warn(database, kind, job.id)
    return Job.model_validate_doc(updated)


def _not_pending(noun: str, status: JobStatus) -> Conflict:
    return Conflict(f"the {noun} is {status.value}: only a pending job's priority can change", slug="not-pending")
