"""Running one claimed job to its end (SPEC §7): the half of the job runner after the claim.

The processor runs under `JOB_TIMEOUT_SECONDS` while a heartbeat extends its lease (and its
repository slot, under a cap) every quarter lease; a run that loses either is cancelled and writes
nothing more. Processors own their job's final status (`run.finish`). When one raises instead, a
transient error (the kind's `is_transient`) sends the job back to `pending` with a growing
`not_before`, until `MAX_ATTEMPTS`; anything else fails it with the error and its traceback's tail.
Every final write is fenced on the run's lease: a run that lost its job leaves it to the new owner.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from shared.jobs import JobStatus
from shared.leases import JobCancelled, JobRun, LeaseLost
from shared.metrics import Metrics
from shared.repo_caps import RepoCaps
from shared.settings import Settings

MAX_BACKOFF_SECONDS = 60.0
TRACEBACK_LINES = 20  # the last lines of a failed run's traceback kept in its run record
TRACEBACK_CHARS = 4000
log = logging.getLogger("ai_spark.jobs")


@dataclass(frozen=True)
class JobKind:
    """How one kind of job runs: its processor, its concurrency and how its errors classify."""

    kind: str
    concurrency: int
    process: Callable[[JobRun], Awaitable[None]]
    is_transient: Callable[[BaseException], bool]
    # Jobs of one repository running at once across every replica (0 = no cap; `shared/repo_slots.py`).
    repo_concurrency: int = 0


def backoff_seconds(attempt: int) -> float:
    """2, 4, 8 … seconds (capped at a minute), ±20 % so retried jobs do not return in a herd."""
    return min(2.0**attempt, MAX_BACKOFF_SECONDS) * random.uniform(0.8, 1.2)


class RunExecutor:
    """Executes the runs a `JobRunner` claims; `release_slot` gives a run's repository slot back."""

    def __init__(
        self,
        settings: Settings,
        worker_id: str,
        caps: RepoCaps,
        release_slot: Callable[[JobRun], Awaitable[None]],
        metrics: Metrics | None = None,
    ):
        self.settings = settings
        self.worker_id = worker_id
        self.metrics = metrics
        self._caps = caps
        self._release_slot = release_slot

    async def give_up(self, run: JobRun) -> None:
        """A job whose worker died on every attempt (a crash it causes, say) must not loop forever."""
        error = f"gave up after {run.attempt - 1} attempts: the worker stopped during each one"
        log.error("job failed", extra={"job_id": run.job_id, "attempt": run.attempt, "error": error})
        await self.fenced(run.finish(JobStatus.failed, error=error, outcome="gave_up"))

    async def execute(self, kind: JobKind, run: JobRun) -> None:
        """Run one claimed job to its end, its lease heartbeated, and log and count how it ended."""
        context = {"job_id": run.job_id, "kind": kind.kind, "attempt": run.attempt, "worker_id": self.worker_id}
        log.info("job started", extra=context)
        started = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(run, asyncio.current_task()))
        outcome = "unknown"
        try:
            outcome = await self._process(kind, run)
        except asyncio.CancelledError:
            outcome = await self._after_cancel(run)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
            await self._release_slot(run)
            seconds = time.perf_counter() - started
            log.info("job ended", extra={**context, "outcome": outcome, "duration_ms": round(seconds * 1000, 1)})
            if self.metrics is not None:
                self.metrics.job_ended(kind.kind, outcome, seconds)

    async def _process(self, kind: JobKind, run: JobRun) -> str:
        try:
            async with asyncio.timeout(self.settings.job_timeout_seconds):
                await kind.process(run)
        except LeaseLost:
            return "lease_lost"
        except JobCancelled:
            await self.fenced(run.finish(JobStatus.cancelled, error="cancelled on request", outcome="cancelled"))
            return "cancelled"
        except TimeoutError:
            seconds = self.settings.job_timeout_seconds
            await self.fenced(run.finish(JobStatus.failed, error=f"timed out after {seconds:g} s", outcome="timeout"))
            return "timeout"
        except Exception as error:  # the processor's failure: classify it, never lose the job
            return await self._failed(kind, run, error)
        return await self._ensure_finished(run)

    async def _failed(self, kind: JobKind, run: JobRun, error: Exception) -> str:
        message, tail = describe_error(error), traceback_tail(error)
        if kind.is_transient(error) and run.attempt < self.settings.max_attempts:
            delay = backoff_seconds(run.attempt)
            log.warning("job will retry", extra={"job_id": run.job_id, "attempt": run.attempt, "error": message})
            await self.fenced(run.retry_later(message, delay, traceback=tail))
            return "retry"
        log.error(
            "job failed",
            extra={"job_id": run.job_id, "attempt": run.attempt, "error": message},
            exc_info=not kind.is_transient(error),
        )
        await self.fenced(run.finish(JobStatus.failed, error=message, outcome="failed", traceback=tail))
        return "failed"

    async def _ensure_finished(self, run: JobRun) -> str:
        """House rule 4 as a safety net: a processor that returned must not leave its job processing."""
        if run.released:
            return "finished"
        await self.fenced(run.finish(JobStatus.failed, error="the processor ended without a final status"))
        return "failed"

    async def _after_cancel(self, run: JobRun) -> str:
        if run.lost:
            return "lease_lost"
        if run.handing_back:
            await self.fenced(run.hand_back())
            return "handed_back"
        raise asyncio.CancelledError

    async def _heartbeat(self, run: JobRun, processing: asyncio.Task[Any] | None) -> None:
        interval = run.lease_seconds / 4
        while True:
            await asyncio.sleep(interval)
            try:
                alive = await run.heartbeat() and await self._extend_slot(run)
            except PyMongoError as error:
                # Keep the run going: if the database comes back before the lease runs out, nothing is lost.
                log.warning("heartbeat failed", extra={"job_id": run.job_id, "error": str(error)[:200]})
                continue
            if not alive:
                log.warning("lease lost; stopping the run", extra={"job_id": run.job_id, "worker_id": run.worker_id})
                if processing is not None:
                    processing.cancel()
                return

    async def _extend_slot(self, run: JobRun) -> bool:
        """Keep the run's repository slot; a run whose slot was taken over hands its job back."""
        if await self._caps.extend(run):
            return True
        log.warning("repository slot lost; handing the job back", extra={"job_id": run.job_id})
        run.handing_back = True
        return False

    @staticmethod
    async def fenced(write: Awaitable[None]) -> None:
        try:
            await write
        except LeaseLost:
            log.warning("a final write found the lease taken; another run owns the job")


def describe_error(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:1000] if text else type(error).__name__


def traceback_tail(error: BaseException) -> str:
    """The last lines of the error's traceback, for the run's record: where it failed, kept small."""
    lines = "".join(traceback.format_exception(error)).splitlines()
    return "\n".join(lines[-TRACEBACK_LINES:])[-TRACEBACK_CHARS:]
