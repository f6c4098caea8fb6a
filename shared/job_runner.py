"""The in-process job runner: no broker, and no accepted job ever lost (SPEC §7).

Every API process runs one. A request submits its job through the runner (`submit`): with a free
slot here, the insert itself claims the job and its run starts at once; otherwise the job is stored
`pending` and the runner is nudged. It also polls about once a
second, with jitter so replicas do not hammer the database in step, for pending jobs and for jobs
whose lease expired. Each job kind has its own concurrency limit on the work: a run's slot frees as
its last write is sent, so the next claim overlaps that round trip. A run's lease is extended every
`LEASE_SECONDS / 4`; a run that loses it is cancelled at once and writes nothing more. On shutdown
the runner stops claiming, lets runs finish for `SHUTDOWN_GRACE_SECONDS`, and hands the rest back
as `pending` without counting the attempt.

What happens to a run once claimed (its heartbeat, timeout, and how a processor's error ends the
job) is `shared/job_execution.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request
from pymongo.errors import PyMongoError

from shared.candidates import Candidate, CandidateQueue
from shared.db import Database
from shared.job_execution import JobKind, RunExecutor
from shared.jobs import Job, JobStatus, Submitted, jobs, queue_stats, utc_now
from shared.leases import Claim, JobRun, claim_job, find_candidates
from shared.metrics import Metrics
from shared.priority import EARLIEST, HIGH, level
from shared.queue_control import note_jump, read_jumps
from shared.repo_caps import RepoCaps
from shared.settings import Settings

POLL_SECONDS = 1.0
LOOK_AHEAD = 256  # ids a look keeps beyond the free slots, claimed later by id
LOOK_INTERVAL = 5.0  # seconds: the longest the known candidates go without a fresh look ahead of them
MAX_CANDIDATES = 1000
HELD_NOTES_PER_PASS = 8  # held-back jobs told why per claim pass (one small write each, once per job)
log = logging.getLogger("ai_spark.jobs")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobRunner:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        kinds: Sequence[JobKind],
        worker_id: str | None = None,
        metrics: Metrics | None = None,
    ):
        self.database = database
        self.metrics = metrics
        self.settings = settings
        self.kinds = {kind.kind: kind for kind in kinds}
        self.worker_id = worker_id or default_worker_id()
        self._running: dict[asyncio.Task[None], JobRun] = {}
        self._reserved = dict.fromkeys(self.kinds, 0)  # slots held by claims under way
        # Jobs likely claimable, in queue order: jobs submitted here while every slot was busy, and what
        # the last look saw beyond the free slots. Claiming one is a single update by `_id`.
        self._candidates = {kind: CandidateQueue(MAX_CANDIDATES) for kind in self.kinds}
        # The kind's queue-jump count as the last look began (`shared/queue_control.py`), and until when
        # the queue is known to mix priorities, so that it is read before every claim from memory.
        self._jumps_seen = dict.fromkeys(self.kinds, 0)
        self._mixed_until = dict.fromkeys(self.kinds, 0.0)
        self._caps = RepoCaps(database, settings.lease_seconds, self.kinds)
        self._executor = RunExecutor(settings, self.worker_id, self._caps, self._release_slot, metrics)
        # Jobs submitted here, as inserted, until claimed: the claim then needs no document back.
        self._copies: OrderedDict[str, Job] = OrderedDict()
        self._last_look = dict.fromkeys(self.kinds, 0.0)
        self._claiming: set[asyncio.Task[None]] = set()
        self._woken_kinds: set[str] = set()
        self._wake = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_poll_error: str | None = None

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        self._poller = asyncio.create_task(self._poll_forever(), name=f"job-poller {self.worker_id}")
        log.info("job runner started", extra={"worker_id": self.worker_id, "kinds": sorted(self.kinds)})

    async def submit(self, kind: str, store: Callable[[Mapping[str, Any] | None], Awaitable[Submitted]]) -> Submitted:
        """Store a job submitted to this process and start it. `store` inserts it (`submit_job`), with
        the fields of a claim to insert it with, or None to store it pending.

        With a free slot the insert itself is the claim and the run starts at once: one write fewer than
        storing the job pending and claiming it, and no wait. The slot is held while the job is stored.
        A process that dies before running such a job leaves it like any job whose worker died: its
        lease expires and any process takes it. A replayed `Idempotency-Key` stores and starts nothing.
        """
        claim = self._reserve_for_insert(kind)
        try:
            submitted = await store(claim.at_insert() if claim is not None else None)
        finally:
            if claim is not None:
                self._reserved[kind] -= 1
        if submitted.created:
            await self._note_if_jumping(kind, submitted.job)
            await self._start_submitted(kind, submitted.job, claim)
        return submitted

    async def _note_if_jumping(self, kind: str, job: Job) -> None:
        """A high job that has to wait stands before the normal and low jobs other replicas hold in
        memory: tell them (one small write, for such jobs only)."""
        if job.status != JobStatus.pending or level(job.priority) < HIGH:
            return
        try:
            jumps = await note_jump(self.database, kind)
        except PyMongoError as error:  # the job is stored; other replicas find it at their next look
            log.warning("cannot note a high-priority job", extra={"job_id": job.id, "error": str(error)[:200]})
            return
        if kind in self.kinds and jumps == self._jumps_seen[kind] + 1:
            self._jumps_seen[kind] = jumps  # only this job jumped, and this runner knows it already

    def _reserve_for_insert(self, kind: str) -> Claim | None:
        if self._stopping or kind not in self.kinds or self._free_slots(kind) <= 0:
            return None
        if self.kinds[kind].repo_concurrency > 0:  # a capped job needs its repository's slot first
            return None
        self._reserved[kind] += 1
        return Claim(self.worker_id, self.settings.lease_seconds)

    async def _start_submitted(self, kind: str, job: Job, claim: Claim | None) -> None:
        if claim is None or job.lease_token != claim.token:
            self.nudge(kind, job.id, job)
            return
        run = claim.run(self.database, job)
        if self._stopping:  # shutdown began while the job was being stored: the next start runs it
            await RunExecutor.fenced(run.hand_back())
            return
        self._launch(self.kinds[kind], run)  # no await since the slot was released: it cannot be taken

    def nudge(self, kind: str | None = None, job_id: str | None = None, job: Job | None = None) -> None:
        """A job was just submitted here (`job`: its document as inserted). With a free slot, claim it
        at once: one update by `_id`, no looking through the queue (a job is only claimable once its
        queue is empty of older work, or the poller would already have filled the slot). Otherwise
        remember it, or wake the poller for that kind."""
        if job is not None and kind in self.kinds and self.kinds[kind].concurrency > 0:
            self._copies[job.id] = job
            if len(self._copies) > MAX_CANDIDATES:
                self._copies.popitem(last=False)  # claimed elsewhere long ago, most likely
        candidate = _candidate_of(job) if job is not None and job.id == job_id else None
        if candidate is not None and kind in self.kinds and candidate.level != LEVEL_NORMAL:
            self._mixed_until[kind] = time.monotonic() + self.settings.priority_aging_seconds
        if kind in self.kinds and job_id is not None and not self._stopping and self._free_slots(kind) > 0:
            self._reserved[kind] += 1
            direct = self._claim_directly(self.kinds[kind], job_id, candidate)
            task = asyncio.create_task(direct, name=f"claim {job_id}")
            self._claiming.add(task)
            task.add_done_callback(self._claiming.discard)
            return
        if kind in self.kinds and candidate is not None and self._candidates[kind].add(candidate):
            return  # claimed by id when a slot frees, in its place in the queue, no look needed
        if kind in self.kinds:
            self._woken_kinds.add(kind)
        else:
            self._woken_kinds.update(self.kinds)
        self._wake.set()

    async def _claim_directly(self, kind: JobKind, job_id: str, candidate: Candidate | None) -> None:
        try:
            run = await self._claim(kind, candidate or Candidate(EARLIEST, job_id))
        except PyMongoError as error:
            log.warning("cannot claim a new job; the poller will", extra={"job_id": job_id, "error": str(error)[:200]})
            run = None
        finally:
            self._reserved[kind.kind] -= 1
        if not isinstance(run, JobRun):
            if run is HELD and candidate is not None:
                self._candidates[kind.kind].add(candidate)
            self.nudge(kind.kind)
            return
        await self._start(kind, run)

    async def shutdown(self) -> None:
        """Stop claiming, let runs finish for the grace period, then hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self._claiming:
            await asyncio.gather(*self._claiming, return_exceptions=True)
        if self._poller is not None:
            # Let a claim under way finish and launch its run (cancelling it there would orphan the job
            # until its lease ran out); cancel only if the database keeps it from finishing.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._poller), timeout=5)
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        running = list(self._running)
        if running:
            log.info("waiting for running jobs", extra={"jobs": len(running), "worker_id": self.worker_id})
            _, unfinished = await asyncio.wait(running, timeout=self.settings.shutdown_grace_seconds)
            for task in unfinished:
                self._running[task].handing_back = True
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)
        log.info("job runner stopped", extra={"worker_id": self.worker_id})

    @property
    def polling(self) -> bool:
        return self._poller is not None and not self._poller.done()

    def running_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(self.kinds, 0)
        for run in self._running.values():
            counts[run.job.kind] += 1
        return counts

    async def stats(self) -> dict[str, Any]:
        stats = await queue_stats(self.database)
        return {"worker_id": self.worker_id, "running": self.running_counts(), **stats}

    # --- claiming --------------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        kinds: set[str] | None = None  # the first pass, and every timed pass, looks at every kind
        while not self._stopping:
            try:
                await self.claim_available(kinds)
                self.last_poll_error = None
            except PyMongoError as error:
                # The database is down: keep the loop alive, /health reports it.
                self.last_poll_error = str(error)[:300]
                log.warning("cannot poll for jobs", extra={"error": self.last_poll_error})
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_SECONDS * random.uniform(0.8, 1.2))
            except TimeoutError:
                kinds = None
            else:
                # Woken by a nudge or a finished run: only the kinds concerned need a look.
                kinds, self._woken_kinds = self._woken_kinds or None, set()
            self._wake.clear()

    def _free_slots(self, kind: str) -> int:
        """Slots not taken by a run at work or a claim under way. A run sending its last write is done
        working (`JobRun.work_done`): the next job's claim overlaps that write's round trip."""
        working = sum(1 for run in self._running.values() if run.job.kind == kind and not run.work_done)
        return self.kinds[kind].concurrency - working - self._reserved[kind]

    async def claim_available(self, kinds: set[str] | None = None) -> int:
        """Fill the free slots of each kind (all kinds by default), known candidates first."""
        claimed = 0
        for kind in self.kinds.values():
            free = self._free_slots(kind.kind)
            if self._stopping or free <= 0 or (kinds is not None and kind.kind not in kinds):
                continue
            self._reserved[kind.kind] += free
            try:
                runs = await self._claim_for(kind, free, timed=kinds is None)
            finally:
                self._reserved[kind.kind] -= free
            for run in runs:
                claimed += await self._start(kind, run)
        return claimed

    async def _claim_for(self, kind: JobKind, wanted: int, timed: bool = False) -> list[JobRun]:
        """Claim from the known candidates; look in the database when they run out, when a job has
        jumped the queue since the last look, and at least every `LOOK_INTERVAL` seconds, so retries
        and jobs of dead workers are never starved by a backlog."""
        name = kind.kind
        if time.monotonic() - self._last_look[name] > LOOK_INTERVAL or await self._queue_jumped(name, timed):
            await self._look(name, wanted)
        runs = await self._claim_known(kind, wanted)
        if len(runs) < wanted:
            await self._look(name, wanted - len(runs))
            runs += await self._claim_known(kind, wanted - len(runs))
        return runs

    async def _queue_jumped(self, kind: str, timed: bool) -> bool:
        """Whether a job may stand before the best known candidate since the last look.

        Only a job of higher priority can (`shared/priority.py`), and such a job bumps the kind's
        jump count. It is read before every claim while the queue mixes priorities, and once a poll
        otherwise: a queue of normal jobs pays no read per claim, and a high job submitted elsewhere
        behind it is seen within a poll.
        """
        best = self._candidates[kind].peek()
        if best is None or best.is_high or best.key <= utc_now():
            return False  # nothing known, or the best already counts as high: no newer job passes it
        if not timed and time.monotonic() > self._mixed_until[kind]:
            return False
        return await read_jumps(self.database, kind) != self._jumps_seen[kind]

    async def _look(self, kind: str, wanted: int) -> None:
        """Merge the first claimable jobs into the known candidates, all in queue order.

        On FerretDB a look decodes every pending job to sort them, whatever the limit, so one look takes
        many ids: with a deep backlog, looking again for every few claims cost as much as the claims.
        Repositories at their cap are left out, so their jobs never stand in front of the others'.
        """
        self._last_look[kind] = time.monotonic()
        self._jumps_seen[kind] = await read_jumps(self.database, kind)  # before the read: no jump missed
        found = await find_candidates(self.database, kind, wanted + LOOK_AHEAD, skip_repos=self._caps.full(kind))
        if any(candidate.level != LEVEL_NORMAL for candidate in found):
            self._mixed_until[kind] = time.monotonic() + self.settings.priority_aging_seconds
        self._candidates[kind].replace(found)

    async def _claim_known(self, kind: JobKind, wanted: int) -> list[JobRun]:
        """Claim known candidates best first, stepping past those whose repository is at its cap."""
        runs: list[JobRun] = []
        skipped: list[Candidate] = []
        known = self._candidates[kind.kind]
        notes = HELD_NOTES_PER_PASS
        while len(runs) < wanted and not self._stopping and (candidate := known.pop()) is not None:
            if candidate.repo_guid in self._caps.full(kind.kind):
                skipped.append(candidate)
                if notes > 0 and not self._caps.noted(candidate.job_id):
                    notes -= 1
                    await self._caps.note_waiting(
                        kind.kind, kind.repo_concurrency, candidate.job_id, candidate.repo_guid
                    )
                continue
            outcome = await self._claim(kind, candidate)
            if outcome is HELD:
                skipped.append(candidate)
            elif outcome is not None:
                runs.append(outcome)
        known.extend(skipped)
        return runs

    async def _claim(self, kind: JobKind, candidate: Candidate) -> JobRun | object | None:
        """Claim one candidate: a run, None when it is gone, or `HELD` when its repository is at its cap."""
        fresh = self._copies.pop(candidate.job_id, None)
        lease = self.settings.lease_seconds
        if kind.repo_concurrency <= 0:
            return await claim_job(self.database, kind.kind, candidate.job_id, self.worker_id, lease, fresh)
        repo = candidate.repo_guid or (fresh.repo_guid if fresh is not None else None)
        repo = repo or await self._repo_of(candidate.job_id)
        if repo is None:
            return None
        hold = await self._caps.take(kind.kind, repo, kind.repo_concurrency, candidate.job_id)
        if hold is None:
            if fresh is not None:
                self._copies[candidate.job_id] = fresh
            await self._caps.note_waiting(kind.kind, kind.repo_concurrency, candidate.job_id, repo)
            return HELD
        # The run begins once its slot is won, so its record never starts before the slot was free.
        claim = Claim(self.worker_id, lease, token=hold.token)
        try:
            run = await claim_job(self.database, kind.kind, candidate.job_id, self.worker_id, lease, fresh, claim=claim)
        except PyMongoError:
            await self._caps.give_back(hold)  # else the repository is a slot short until it expires
            raise
        if run is None:
            await self._caps.give_back(hold)
            return None
        self._caps.held_by(run, hold)
        return run

    async def _repo_of(self, job_id: str) -> str | None:
        document = await jobs(self.database).find_one({"_id": job_id}, projection={"repo_guid": 1})
        return document.get("repo_guid") if document else None

    async def _start(self, kind: JobKind, run: JobRun) -> int:
        if run.attempt > self.settings.max_attempts:
            await self._executor.give_up(run)
            await self._release_slot(run)
            return 0
        self._launch(kind, run)
        return 1

    def _launch(self, kind: JobKind, run: JobRun) -> None:
        run.on_work_done = lambda: self._slot_freed(kind.kind)
        task = asyncio.create_task(self._executor.execute(kind, run), name=f"{kind.kind} {run.job_id}")
        self._running[task] = run
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        run = self._running.pop(task, None)
        if run is not None and not run.work_done:  # else its slot was freed as its last write began
            self._slot_freed(run.job.kind)

    async def _release_slot(self, run: JobRun) -> None:
        if await self._caps.release(run):
            self._slot_freed(run.job.kind)  # a job of that repository may be waiting

    def _slot_freed(self, kind: str) -> None:
        if not self._stopping:
            self._woken_kinds.add(kind)  # another job of this kind may be waiting
            self._wake.set()


HELD = object()  # a claim held back by its repository's cap
LEVEL_NORMAL = level("normal")


def _candidate_of(job: Job) -> Candidate:
    return Candidate(job.queue_key or EARLIEST, job.id, level(job.priority), job.repo_guid)


async def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner


RunnerDep = Annotated[JobRunner, Depends(get_runner)]
