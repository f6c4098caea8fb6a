"""Replica heartbeats (SPEC §10): which processes serve and run jobs, read from the database.

Every process writes one document in `replicas` — `{_id: its runner's worker_id, host, pid, version,
started_at, last_seen, slots: {export: {used, limit}, import: {used, limit}}}` — every
`heartbeat_interval(LEASE_SECONDS)` seconds, from a task the lifespan starts beside the job runner.
So every replica lists the same replicas, and a restarted one shows up under its new id. A replica not
seen for 2 × `LEASE_SECONDS` is `stale` (by then any job it held has been taken over); one not seen for
a day is deleted by the heartbeat writers' own sweep. A database hiccup logs a warning and the next
beat tries again: the task never dies of it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import PyMongoError

from shared.db import Database
from shared.job_runner import JobRunner
from shared.jobs import utc_now

REPLICAS_COLLECTION = "replicas"
KINDS = ("export", "import")
FORGET_AFTER = timedelta(days=1)
SWEEP_EVERY_BEATS = 60
STOP_WAIT_SECONDS = 5.0  # the longest `stop` waits for the last beat to end
log = logging.getLogger("ai_spark.replicas")

Slots = dict[str, dict[str, int]]


def heartbeat_interval(lease_seconds: float) -> float:
    """Seconds between beats: a third of the lease (so a live replica is never near stale), at most 5."""
    return min(lease_seconds / 3, 5.0)


def stale_after(lease_seconds: float) -> timedelta:
    return timedelta(seconds=2 * lease_seconds)


def runner_slots(runner: JobRunner) -> Callable[[], Slots]:
    """The runner's slots in use and its limits, per kind (a limit of 0: this replica runs none)."""

    def slots() -> Slots:
        used = runner.running_counts()
        return {
            kind: {"used": used.get(kind, 0), "limit": runner.kinds[kind].concurrency if kind in runner.kinds else 0}
            for kind in KINDS
        }

    return slots


class ReplicaHeartbeat:
    """Writes this process's heartbeat document until stopped."""

    def __init__(
        self,
        database: Database,
        replica_id: str,
        version: str,
        slots: Callable[[], Slots],
        lease_seconds: float,
    ) -> None:
        self.database = database
        self.replica_id = replica_id
        self.version = version
        self.slots = slots
        self.interval = heartbeat_interval(lease_seconds)
        self.started_at = utc_now()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.beats = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat_forever(), name=f"replica-heartbeat {self.replica_id}")

    async def stop(self) -> None:
        """End the beats, within a bounded wait: a cancel that lands inside a driver call to a
        database that is gone can come back as a PyMongoError, which the loop survives by design.
        The flag ends the loop at its next turn then; the wait never holds a shutdown longer."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_WAIT_SECONDS)  # never fails the shutdown
            self._task = None

    async def beat(self) -> None:
        """One heartbeat write (an upsert of this replica's document)."""
        await self.database.collection(REPLICAS_COLLECTION).update_one(
            {"_id": self.replica_id},
            {
                "$set": {
                    "host": self.host,
                    "pid": self.pid,
                    "version": self.version,
                    "started_at": self.started_at,
                    "last_seen": utc_now(),
                    "slots": self.slots(),
                }
            },
            upsert=True,
        )
        self.beats += 1

    async def sweep(self) -> int:
        """Delete the replicas not seen for a day; how many went."""
        outcome = await self.database.collection(REPLICAS_COLLECTION).delete_many(
            {"last_seen": {"$lt": utc_now() - FORGET_AFTER}}
        )
        return outcome.deleted_count

    async def _beat_forever(self) -> None:
        while not self._stopping:
            try:
                await self.beat()
                if self.beats % SWEEP_EVERY_BEATS == 1:
                    await self.sweep()
            except PyMongoError as error:
                log.warning("cannot write the replica heartbeat", extra={"error": str(error)[:300]})
            except Exception:
                # Anything else is a bug, logged with its traceback; the replica keeps beating, since a
                # heartbeat that stopped would mark a live replica stale on every console.
                log.exception("the replica heartbeat failed")
            await asyncio.sleep(self.interval)


async def list_replicas(database: Database, lease_seconds: float, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every replica with a heartbeat, by id: `{id, host, pid, version, started_at, last_seen, slots,
    stale}`, `stale` when it was not seen for 2 × `lease_seconds`."""
    moment = now or utc_now()
    found = database.collection(REPLICAS_COLLECTION).find({}).sort([("_id", ASCENDING)])
    replicas = []
    for document in await found.to_list():
        last_seen = document["last_seen"]
        replicas.append(
            {
                "id": document["_id"],
                "host": document.get("host"),
                "pid": document.get("pid"),
                "version": document.get("version"),
                "started_at": document.get("started_at"),
                "last_seen": last_seen,
                "slots": document.get("slots") or {kind: {"used": 0, "limit": 0} for kind in KINDS},
                "stale": moment - last_seen > stale_after(lease_seconds),
            }
        )
    return replicas
