"""Claiming a job and fencing every write of the run that holds it (SPEC §7).

`claim` takes the first pending job in queue order (`shared/priority.py`) whose `not_before` has
passed, or a processing job whose lease expired (its worker died or stalled), with one atomic
`find_one_and_update` that makes it `processing` under a new lease token. `JobRun` is that run's
only way to write: every write is matched on `{_id, lease_token}`, and one that matches nothing
raises `LeaseLost` — the job belongs to another run now, and this one must stop without writing
anything else.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

from shared.candidates import Candidate
from shared.db import Database
from shared.jobs import Job, JobStatus, jobs, queued_progress, utc_now

log = logging.getLogger("ai_spark.jobs")
PROGRESS_INTERVAL = 0.5  # seconds between two progress writes of one run
STILL_INTERVAL = 0.75  # `keep_moving`: progress unwritten this long is written again, with the step's time


class LeaseLost(Exception):
    """This run no longer holds the job: another run claimed it after the lease expired."""


class JobCancelled(Exception):
    """A client asked to cancel the job; the processor stops at its next step."""


@dataclass
class JobRun:
    """One claimed run of a job: its lease token, its fenced writes and its heartbeat."""

    database: Database
    job: Job
    token: str
    worker_id: str
    run_index: int
    lease_seconds: float
    started: datetime = field(default_factory=utc_now)
    cancel_requested: bool = False
    lost: bool = False
    handing_back: bool = False
    # Set by finish, retry_later and hand_back: the job has left this run's hands.
    released: bool = False
    # Set as the last write is sent: the work is done, so the runner may start the next job meanwhile.
    work_done: bool = False
    on_work_done: Callable[[], None] | None = None
    # Fields that ride along with the next write (the attempt number of this run's record).
    carry: dict[str, Any] = field(default_factory=dict)
    # The claim wrote the first progress ("started"): the next write is due an interval later.
    _last_progress: float = field(default_factory=time.monotonic)
    # The last progress asked for (written or throttled) and when its step began: `keep_moving`.
    _asked: tuple[float, str, float] = field(default_factory=lambda: (0.0, "started", time.monotonic()))
    _written_step: str = "started"
    # When `keep_moving` last wrote. Kept apart from `_last_progress`: its writes must not throttle
    # the processor's next step, the write that would see a cancel request made meanwhile.
    _last_quiet: float = 0.0
    # A run holding a repository slot (`shared/repo_slots.py`) writes nothing once its lease is out,
    # even if no one took the job yet: by then its slot may be another run's.
    fence_on_expiry: bool = False

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def attempt(self) -> int:
        return self.job.attempts

    def _fence(self) -> dict[str, Any]:
        fence: dict[str, Any] = {"_id": self.job.id, "lease_token": self.token}
        if self.fence_on_expiry:
            fence["lease_expires"] = {"$gt": utc_now()}
        return fence

    def _last_write_begins(self) -> None:
        """The run's work is over and only its last write is left: free its slot now, so claiming the
        next job overlaps this write instead of waiting for its round trip."""
        if not self.work_done:
            self.work_done = True
            if self.on_work_done is not None:
                self.on_work_done()

    async def write(self, update: dict[str, Any]) -> None:
        """A fenced update; `LeaseLost` when this run no longer holds the job."""
        fields = update.setdefault("$set", {})
        fields.update(self.carry, updated_at=utc_now())
        outcome = await jobs(self.database).update_one(self._fence(), update)
        if outcome.matched_count == 0:
            self.lost = True
            raise LeaseLost(self.job.id)
        self.carry = {}

    async def progress(self, percent: float, step: str, promptly: bool = False) -> None:
        """Record progress; stop here (`JobCancelled`) if a client asked to cancel.

        At most one write every `PROGRESS_INTERVAL` seconds: a job of many small steps would
        otherwise spend more on progress than on work. A cancel request is still seen within it.
        A step dropped by the throttle is not lost when `keep_moving` runs: it writes it a moment later.
        `promptly` writes a step that starts a new phase past the throttle (the first file after the
        catalog read): a client sees the read end when it ends, not up to an interval later.
        """
        now = time.monotonic()
        if step != self._asked[1]:
            self._asked = (percent, step, now)
        else:
            self._asked = (percent, step, self._asked[2])
        await self._write_progress(percent, step, now, promptly=promptly)

    async def keep_moving(self) -> None:
        """Until cancelled: write the step asked for last once the throttle allows it, when the
        throttle dropped it (the "reading the catalog" right after the claim, a file's step right
        after the last catalog count); and when nothing was written for `STILL_INTERVAL`, the step
        with its time ("writing events.xlsx (3 s)"), so a long step (a catalog read, a big file, the
        zip) never leaves `progress` still (issue 14). It only writes: a write that matches nothing
        (a cancel request, a lost lease, the run just finished) is left to the processor's next step
        and the heartbeat."""
        while True:
            await asyncio.sleep(max(PROGRESS_INTERVAL / 2, 0.05))
            now = time.monotonic()
            if self.cancel_requested or self.lost or self.work_done:
                continue
            percent, step, since = self._asked
            quiet_for = now - max(self._last_progress, self._last_quiet)
            if step != self._written_step and quiet_for >= PROGRESS_INTERVAL:
                shown = step
            elif quiet_for >= STILL_INTERVAL:
                shown = f"{step} ({now - since:.0f} s)"
            else:
                continue
            try:
                await self._write_progress(percent, shown, now, quiet=True)
            except PyMongoError as error:  # the heartbeat decides what an unreachable database means
                log.warning("progress write failed", extra={"job_id": self.job.id, "error": str(error)[:200]})

    async def _write_progress(
        self, percent: float, step: str, now: float, quiet: bool = False, promptly: bool = False
    ) -> None:
        if self.cancel_requested:
            raise JobCancelled(self.job.id)
        if self.lost:
            raise LeaseLost(self.job.id)
        last = max(self._last_progress, self._last_quiet) if quiet else self._last_progress
        if now - last < PROGRESS_INTERVAL and not promptly:
            return
        if quiet:
            self._last_quiet = now
        else:
            self._last_progress = now
        self._written_step = step  # before the round trip: `keep_moving` must not send it twice
        fields = {"progress": {"percent": round(percent, 1), "step": step}, **self.carry, "updated_at": utc_now()}
        outcome = await jobs(self.database).update_one(
            {**self._fence(), "cancel_requested": {"$ne": True}}, {"$set": fields}
        )
        if outcome.matched_count == 1:
            self.carry = {}
            return
        # A quiet write (`keep_moving`'s) only notes why: the processor's next step raises it. Noted it
        # must be, since that step is likely throttled by this very write and would not look itself.
        await self._note_stop_reason()
        if not quiet:
            raise LeaseLost(self.job.id) if self.lost else JobCancelled(self.job.id)

    async def _note_stop_reason(self) -> None:
        """The cheap fenced write matched nothing: tell a cancel request from a lost lease."""
        document = await jobs(self.database).find_one(self._fence(), projection={"cancel_requested": 1})
        if document is None:
            self.lost = True
        else:
            self.cancel_requested = True

    async def stop_if_cancelled(self) -> None:
        """Look for a cancel request now, throttle or not (`JobCancelled` if there is one): the last
        look before a job seals its result. The throttled progress writes of its last steps may all
        fall within one interval and look at nothing, so a cancel asked for then was missed."""
        if not self.cancel_requested:
            flagged = await jobs(self.database).count_documents({**self._fence(), "cancel_requested": True}, limit=1)
            self.cancel_requested = bool(flagged)
        if self.cancel_requested:
            raise JobCancelled(self.job.id)

    async def heartbeat(self) -> bool:
        """Extend the lease; False once another run holds the job. Notes a cancel request on the way."""
        now = utc_now()
        fence = {**self._fence(), "status": JobStatus.processing}
        extended = {"$set": {"lease_expires": now + timedelta(seconds=self.lease_seconds), "updated_at": now}}
        outcome = await jobs(self.database).update_one(fence, extended)
        if outcome.matched_count == 0:
            self.lost = True
            return False
        flagged = await jobs(self.database).count_documents({**fence, "cancel_requested": True}, limit=1)
        self.cancel_requested = self.cancel_requested or bool(flagged)
        return True

    def _run_ended(
        self, now: datetime, outcome: str, error: str | None = None, traceback: str | None = None
    ) -> dict[str, Any]:
        """The end of this run in the job's run history, set with the run's last write: its outcome,
        its error and the last lines of its traceback (None when it did not fail on an exception)."""
        record = f"runs.{self.run_index}"
        return {
            f"{record}.ended_at": now,
            f"{record}.outcome": outcome,
            f"{record}.error": error,
            f"{record}.traceback": traceback,
        }

    async def finish(
        self,
        status: JobStatus,
        *,
        error: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        result: dict[str, Any] | None = None,
        outcome: str | None = None,
        traceback: str | None = None,
    ) -> None:
        """The final status of the job, with the end of this run recorded, in one fenced write."""
        now = utc_now()
        fields: dict[str, Any] = {
            "status": status,
            "completed_at": now,
            "lease_token": None,
            "lease_expires": None,
            "error": error,
            "progress.step": status.value,
            **self._run_ended(now, outcome or status.value, error, traceback),
        }
        if status == JobStatus.completed:
            fields["progress.percent"] = 100
        if errors is not None:
            fields["errors"] = errors
        for key, value in (result or {}).items():
            fields[f"result.{key}"] = value
        self._last_write_begins()
        await self.write({"$set": fields})
        self.released = True

    async def retry_later(self, error: str, delay_seconds: float, traceback: str | None = None) -> None:
        """Back to `pending` after a transient failure; the attempt counts."""
        now = utc_now()
        self._last_write_begins()
        await self.write(
            {
                "$set": {
                    "status": JobStatus.pending,
                    "not_before": now + timedelta(seconds=delay_seconds),
                    "lease_token": None,
                    "lease_expires": None,
                    "error": error,
                    "progress.step": f"waiting to retry in {delay_seconds:.1f} s",
                    **self._run_ended(now, "retry", error, traceback),
                }
            }
        )
        self.released = True

    async def hand_back(self) -> None:
        """Back to `pending` at once, the attempt not counted (shutdown, not failure)."""
        now = utc_now()
        await self.write(
            {
                "$set": {
                    "status": JobStatus.pending,
                    "not_before": now,
                    "lease_token": None,
                    "lease_expires": None,
                    "progress.step": "handed back at shutdown",
                    **self._run_ended(now, "handed_back"),
                },
                "$inc": {"attempts": -1},
            }
        )
        self.released = True


def claimable(kind: str, now: datetime) -> dict[str, Any]:
    return {"kind": kind, "$or": [pending_due(now), lease_expired(now)]}


def pending_due(now: datetime) -> dict[str, Any]:
    return {"status": JobStatus.pending, "not_before": {"$lte": now}}


def lease_expired(now: datetime) -> dict[str, Any]:
    return {"status": JobStatus.processing, "lease_expires": {"$lt": now}}


LOOK_SLACK = 4  # extra candidates per look, for the ones other workers take first


async def claim(database: Database, kind: str, worker_id: str, lease_seconds: float) -> JobRun | None:
    """Take the oldest claimable job of `kind` under a new lease, or None when there is none."""
    runs = await claim_many(database, kind, worker_id, lease_seconds, wanted=1)
    return runs[0] if runs else None


async def claim_many(database: Database, kind: str, worker_id: str, lease_seconds: float, wanted: int) -> list[JobRun]:
    """Take up to `wanted` of the first claimable jobs of `kind` in queue order: one look, then one
    atomic claim per candidate (`claim_job`) until enough were won."""
    runs: list[JobRun] = []
    for candidate in await find_candidates(database, kind, wanted + LOOK_SLACK):
        if len(runs) == wanted:
            break
        run = await claim_job(database, kind, candidate.job_id, worker_id, lease_seconds)
        if run is not None:
            runs.append(run)
    return runs


CANDIDATE_FIELDS = {"queue_key": 1, "priority": 1, "repo_guid": 1}


async def find_candidates(
    database: Database, kind: str, limit: int, skip_repos: Collection[str] = ()
) -> list[Candidate]:
    """The first claimable jobs of `kind` in queue order (priority with aging, then age): a plain
    read, not a claim. `skip_repos` are repositories whose cap is full: their jobs would only stand
    in front of the others'.

    Claiming is always `claim_job`'s atomic update, which re-checks the conditions; looking is kept
    apart so its cost is shared by many claims. Pending and expired jobs are two reads, each on one
    status, rather than one `$or`: each is a `{kind, status}` range of the `claim_queue` index on
    MongoDB, and FerretDB's SQLite backend can only narrow a query by a top-level equality
    (`tools/ferretdb/sqlite_pushdown.go`).
    """
    now = utc_now()
    order = [("queue_key", 1), ("_id", 1)]
    scope: dict[str, Any] = {"kind": kind}
    if skip_repos:
        scope["repo_guid"] = {"$nin": sorted(skip_repos)}
    found: list[Candidate] = []
    for condition in (pending_due(now), lease_expired(now)):
        cursor = jobs(database).find({**scope, **condition}, projection=CANDIDATE_FIELDS).sort(order)
        documents = await cursor.limit(limit).batch_size(limit).to_list(length=limit)  # one reply, no getMore
        found += [Candidate.from_document(document) for document in documents]
    found.sort()
    return found[:limit]


@dataclass(frozen=True)
class Claim:
    """What taking a job writes: a new lease token, the lease, and the start of a run record."""

    worker_id: str
    lease_seconds: float
    now: datetime = field(default_factory=utc_now)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def lease_expires(self) -> datetime:
        return self.now + timedelta(seconds=self.lease_seconds)

    @property
    def run_record(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "lease_token": self.token,
            "started_at": self.now,
            "ended_at": None,
            "outcome": None,
        }

    @property
    def _taken(self) -> dict[str, Any]:
        """The fields a claim sets outright, in the database and on the copy in hand alike."""
        return {
            "status": JobStatus.processing,
            "lease_token": self.token,
            "lease_expires": self.lease_expires,
            "worker_id": self.worker_id,
            "started_at": self.now,
            "updated_at": self.now,
        }

    @property
    def update(self) -> dict[str, Any]:
        return {
            "$set": {**self._taken, "progress.step": "started"},
            "$inc": {"attempts": 1},
            "$push": {"runs": self.run_record},
        }

    def changes(self, attempts: int, runs: list[dict[str, Any]], progress: dict[str, Any]) -> dict[str, Any]:
        """The claimed job's fields as `update` leaves them, from the ones it builds on."""
        return {
            **self._taken,
            "attempts": attempts + 1,
            "runs": [*runs, self.run_record],
            "progress": {**progress, "step": "started"},
        }

    def at_insert(self) -> dict[str, Any]:
        """The fields of a job stored already claimed (`submit_job(claimed=...)`): its first run, begun.

        The attempt number is in the run record from the start; a later claim carries it on the run's
        first write instead (`_record_claim`)."""
        fields = self.changes(0, [], queued_progress())
        fields["runs"] = [{**self.run_record, "attempt": 1}]
        return fields

    def run(self, database: Database, job: Job) -> JobRun:
        return JobRun(
            database, job, self.token, self.worker_id, len(job.runs) - 1, self.lease_seconds, started=self.now
        )


async def claim_job(
    database: Database,
    kind: str,
    job_id: str,
    worker_id: str,
    lease_seconds: float,
    fresh: Job | None = None,
    claim: Claim | None = None,
) -> JobRun | None:
    """Take this job if it is still claimable: one atomic update by `_id`.

    `fresh` is the job as this process inserted it, when it has it: then the update need not send the
    document back (see `_claim_fresh`). `claim` is the claim to make, when its token was given out
    already (to a repository slot, `shared/repo_slots.py`).
    """
    claim = claim or Claim(worker_id, lease_seconds)
    if fresh is not None and fresh.status == JobStatus.pending and fresh.started_at is None:
        return await _claim_fresh(database, fresh, claim)
    before = await jobs(database).find_one_and_update(
        {"_id": job_id, **claimable(kind, claim.now)}, claim.update, return_document=ReturnDocument.BEFORE
    )
    if before is None:
        return None
    changed = claim.changes(before.get("attempts", 0), before.get("runs", []), before.get("progress", {}))
    run = claim.run(database, Job.model_validate_doc({**before, **changed}))
    await _record_claim(run, before)
    return run


async def _claim_fresh(database: Database, fresh: Job, claim: Claim) -> JobRun | None:
    """Claim a job never claimed before, whose document this process still holds as it inserted it.

    A pending job with no `started_at` has not changed since its insert (a claim sets it, a cancel
    makes the job `cancelled`), so a plain update suffices and the run is built from the copy in hand:
    no document crosses the wire and none is decoded. None when the job has moved on meanwhile: another
    worker has it, or it was cancelled. (Should that worker die, its expired lease is found by the next
    look, like any other; trying the full claim here would mostly cost a wasted command whenever two
    processes reach for the same job.)
    """
    untouched = {"_id": fresh.id, "status": JobStatus.pending, "started_at": None, "not_before": {"$lte": claim.now}}
    outcome = await jobs(database).update_one(untouched, claim.update)
    if outcome.matched_count == 0:
        return None
    run = claim.run(database, fresh.model_copy(update=claim.changes(fresh.attempts, fresh.runs, fresh.progress)))
    await _record_claim(run, {"status": JobStatus.pending})
    return run


async def _record_claim(run: JobRun, before: dict[str, Any]) -> None:
    """Note the attempt number (with the run's first write); close the previous run now if its
    worker vanished without a word, so the record never shows two runs at once."""
    run.carry[f"runs.{run.run_index}.attempt"] = run.attempt
    if retries := len(before.get("retries") or ()):
        run.carry[f"runs.{run.run_index}.retry"] = retries  # the attempt count restarts at each manual retry
    previous = run.run_index - 1
    if before.get("status") == JobStatus.processing and previous >= 0:
        log.warning(
            "job reclaimed after its lease expired",
            extra={"job_id": run.job_id, "kind": run.job.kind, "previous_worker": before.get("worker_id")},
        )
        await run.write(
            {
                "$set": {
                    f"runs.{previous}.ended_at": before.get("lease_expires"),
                    f"runs.{previous}.outcome": "lease_expired",
                }
            }
        )
