"""Periodic work that runs once per period, whatever the number of replicas (SPEC §7). No Beat process.

Each periodic task is a document in `periodic_tasks`: `{_id: name, interval_seconds, next_run_at,
lease_token, lease_expires, worker_id, outcomes, counts, last_run}`. Every process runs a
`PeriodicScheduler` that looks at the documents a few times per interval (a read) and, when a task
is due, claims it like a job: one `find_one_and_update` on `{_id, next_run_at <= now, no live
lease}` that sets a new lease token; the `next_run_at` it found is the period it serves. Only one
replica wins; it runs the task with its lease renewed every quarter of `LEASE_SECONDS`, then in one
write fenced on its token advances `next_run_at`, frees the lease and adds the run's counts.

- **Once per period.** Finishing moves `next_run_at` one interval on; when the run ended after that
  (it was late, or slow), to the first slot still ahead: missed periods are skipped, not run back
  to back.
- **Taken over.** A replica killed mid-run leaves its lease; once it expires any replica claims the
  same period again (tasks must be safe to re-run, as jobs are). A run that finds its lease taken
  (it stalled past it) is cancelled at once and writes nothing more.
- **Never two at once** within one lease: the claim is atomic, and the holder stops when it loses it.
- **Shutdown** hands the lease back without advancing the period, so another replica runs it now.

A task's `run` returns counts (e.g. `{"jobs_deleted": 3}`), summed in the document's `counts` and
exposed by `/metrics`, so every replica reports the same cumulative numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.db import Database
from shared.jobs import utc_now

PERIODIC_COLLECTION = "periodic_tasks"
MAX_POLL_SECONDS = 5.0
ERROR_CHARS = 1000
log = logging.getLogger("ai_spark.periodic")


@dataclass(frozen=True)
class PeriodicTask:
    """What runs, how often. `run` gets the claimed run and returns counts to add up (or None)."""

    name: str
    interval_seconds: float
    run: Callable[[PeriodicRun], Awaitable[Mapping[str, int] | None]]


@dataclass
class PeriodicRun:
    """One claimed run of a periodic task: the period it serves and its fenced lease."""

    database: Database
    name: str
    token: str
    worker_id: str
    period: datetime
    lease_seconds: float
    started: datetime = field(default_factory=utc_now)
    lost: bool = False

    def _fence(self) -> dict[str, Any]:
        return {"_id": self.name, "lease_token": self.token}

    async def heartbeat(self) -> bool:
        """Extend the lease; False once another replica holds the task."""
        expires = utc_now() + timedelta(seconds=self.lease_seconds)
        outcome = await tasks(self.database).update_one(self._fence(), {"$set": {"lease_expires": expires}})
        self.lost = self.lost or outcome.matched_count == 0
        return not self.lost

    async def finish(self, interval_seconds: float, outcome: str, error: str | None, counts: Mapping[str, int]) -> bool:
        """Advance the period, free the lease, record the run and add its counts: one fenced write."""
        now = utc_now()
        fields: dict[str, Any] = {
            "next_run_at": next_period(self.period, interval_seconds, now),
            "lease_token": None,
            "lease_expires": None,
            "last_run": {
                "period": self.period,
                "worker_id": self.worker_id,
                "started_at": self.started,
                "ended_at": now,
                "outcome": outcome,
                "error": error,
                "counts": dict(counts),
            },
        }
        increments = {f"outcomes.{outcome}": 1, **{f"counts.{name}": value for name, value in counts.items()}}
        written = await tasks(self.database).update_one(self._fence(), {"$set": fields, "$inc": increments})
        return written.matched_count == 1

    async def hand_back(self) -> None:
        """Free the lease without advancing the period: another replica runs it at its next look."""
        await tasks(self.database).update_one(self._fence(), {"$set": {"lease_token": None, "lease_expires": None}})


def tasks(database: Database):
    return database.collection(PERIODIC_COLLECTION)


def next_period(period: datetime, interval_seconds: float, now: datetime) -> datetime:
    """The slot after `period`; or, when that has passed already, the first slot still ahead of `now`."""
    step = timedelta(seconds=interval_seconds)
    following = period + step
    if following > now:
        return following
    missed = math.floor((now - period) / step)
    return period + step * (missed + 1)


class PeriodicScheduler:
    """Claims and runs the due periodic tasks of this process; one per API process, beside the runner."""

    def __init__(
        self,
        database: Database,
        periodic: Sequence[PeriodicTask],
        worker_id: str,
        lease_seconds: float,
        timeout_seconds: float,
    ) -> None:
        self.database = database
        self.periodic = {task.name: task for task in periodic}
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.timeout_seconds = timeout_seconds
        self._running: dict[str, tuple[asyncio.Task[None], PeriodicRun]] = {}
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False
        self._registered = False

    @property
    def poll_seconds(self) -> float:
        shortest = min((task.interval_seconds for task in self.periodic.values()), default=MAX_POLL_SECONDS)
        return min(MAX_POLL_SECONDS, shortest / 4)

    def start(self) -> None:
        if not self.periodic:
            return
        self._poller = asyncio.create_task(self._poll_forever(), name=f"periodic {self.worker_id}")
        log.info("periodic scheduler started", extra={"worker_id": self.worker_id, "tasks": sorted(self.periodic)})

    async def shutdown(self) -> None:
        """Stop looking, cancel the runs in hand and give their leases back (their periods run elsewhere)."""
        self._stopping = True
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        for task, run in list(self._running.values()):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if not run.lost:
                with contextlib.suppress(PyMongoError):
                    await run.hand_back()

    async def _poll_forever(self) -> None:
        while not self._stopping:
            try:
                await self.run_due()
            except PyMongoError as error:
                log.warning("cannot look for periodic work", extra={"error": str(error)[:300]})
            await asyncio.sleep(self.poll_seconds * random.uniform(0.8, 1.2))

    async def run_due(self) -> list[str]:
        """Claim and start every due task not already running here; the names started."""
        await self._register()
        now = utc_now()
        due = tasks(self.database).find(
            {"_id": {"$in": sorted(self.periodic)}}, projection={"next_run_at": 1, "lease_token": 1, "lease_expires": 1}
        )
        started = []
        for document in await due.to_list(length=len(self.periodic)):
            name = document["_id"]
            if name in self._running or not _is_due(document, now):
                continue
            run = await self._claim(name)
            if run is not None:
                self._launch(self.periodic[name], run)
                started.append(name)
        return started

    async def _register(self) -> None:
        """Each task's document, created once (the first run is due at once) and given the interval."""
        if self._registered:
            return
        now = utc_now()
        for task in self.periodic.values():
            with contextlib.suppress(DuplicateKeyError):  # another replica created it at the same moment
                await tasks(self.database).update_one(
                    {"_id": task.name},
                    {
                        "$set": {"interval_seconds": task.interval_seconds},
                        "$setOnInsert": {"next_run_at": now, "lease_token": None, "lease_expires": None},
                    },
                    upsert=True,
                )
        self._registered = True

    async def _claim(self, name: str) -> PeriodicRun | None:
        now = utc_now()
        token = uuid.uuid4().hex
        free = {"$or": [{"lease_token": None}, {"lease_expires": {"$lt": now}}]}
        before = await tasks(self.database).find_one_and_update(
            {"_id": name, "next_run_at": {"$lte": now}, **free},
            {
                "$set": {
                    "lease_token": token,
                    "lease_expires": now + timedelta(seconds=self.lease_seconds),
                    "worker_id": self.worker_id,
                }
            },
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            return None
        period = before["next_run_at"]  # unchanged until the run finishes: the period in hand
        if before.get("lease_token") is not None:
            log.warning(
                "periodic task taken over after its lease expired",
                extra={"task": name, "previous_worker": before.get("worker_id"), "worker_id": self.worker_id},
            )
        return PeriodicRun(self.database, name, token, self.worker_id, period, self.lease_seconds, started=now)

    def _launch(self, task: PeriodicTask, run: PeriodicRun) -> None:
        running = asyncio.create_task(self._execute(task, run), name=f"periodic {task.name}")
        self._running[task.name] = (running, run)
        running.add_done_callback(lambda _: self._running.pop(task.name, None))

    async def _execute(self, task: PeriodicTask, run: PeriodicRun) -> None:
        context = {"task": task.name, "period": run.period.isoformat(), "worker_id": self.worker_id}
        log.info("periodic task started", extra=context)
        began = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(run, asyncio.current_task()))
        outcome, error, counts = "completed", None, {}
        try:
            async with asyncio.timeout(self.timeout_seconds):
                counts = dict(await task.run(run) or {})
        except asyncio.CancelledError:
            if run.lost or self._stopping:
                return  # another replica has it, or shutdown hands it back
            raise
        except Exception as error_raised:  # a failed run is recorded and retried next period
            outcome, error = "failed", f"{type(error_raised).__name__}: {error_raised}"[:ERROR_CHARS]
            log.error("periodic task failed", extra={**context, "error": error}, exc_info=True)
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)
        try:
            finished = await run.finish(task.interval_seconds, outcome, error, counts)
        except PyMongoError as unreachable:
            # The run's lease expires on its own and the next period (here or on another replica)
            # runs it again; the task itself must not die with an exception nobody retrieves.
            log.warning(
                "periodic task ended but its outcome could not be stored",
                extra={**context, "error": str(unreachable)[:200]},
            )
            return
        if not finished:
            log.warning("periodic task ended after its lease was taken", extra=context)
            return
        duration_ms = round((time.perf_counter() - began) * 1000, 1)
        log.info(
            "periodic task ended", extra={**context, "outcome": outcome, "counts": counts, "duration_ms": duration_ms}
        )

    async def _heartbeat(self, run: PeriodicRun, running: asyncio.Task[Any] | None) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 4)
            try:
                alive = await run.heartbeat()
            except PyMongoError as error:
                log.warning("periodic heartbeat failed", extra={"task": run.name, "error": str(error)[:200]})
                continue
            if not alive:
                log.warning("periodic lease lost; stopping the run", extra={"task": run.name})
                if running is not None:
                    running.cancel()
                return


def _is_due(document: Mapping[str, Any], now: datetime) -> bool:
    if document.get("next_run_at") is None or document["next_run_at"] > now:
        return False
    return document.get("lease_token") is None or document["lease_expires"] < now


async def periodic_stats(database: Database) -> list[dict[str, Any]]:
    """Every periodic task's document: runs by outcome, summed counts, the last run; for `/metrics`."""
    projection = {"outcomes": 1, "counts": 1, "last_run": 1, "next_run_at": 1, "interval_seconds": 1}
    return await tasks(database).find({}, projection=projection).to_list(length=None)
