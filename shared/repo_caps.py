"""A runner's side of the per-repository caps (`shared/repo_slots.py` holds the slot documents).

It remembers which repositories were found at their cap (skipped for `FULL_RECHECK_SECONDS`, or
until one of this process's runs of that repository ends, without a database call), the slots this
process's runs hold, and which waiting jobs were already told why they wait.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from pymongo.errors import PyMongoError

from shared import repo_slots
from shared.db import Database
from shared.jobs import JobStatus, jobs, utc_now
from shared.leases import JobRun

FULL_RECHECK_SECONDS = 0.5  # how long a repository at its cap is skipped before its slots are read again
SLOT_MARGIN = 1.25  # a slot's expiry, in leases: it outlives its run's lease by a quarter
MAX_NOTED = 4000
log = logging.getLogger("ai_spark.jobs")


class RepoCaps:
    def __init__(self, database: Database, lease_seconds: float, kinds: Iterable[str]) -> None:
        self.database = database
        self.lease_seconds = lease_seconds
        self._full: dict[str, dict[str, float]] = {kind: {} for kind in kinds}
        self._holds: dict[str, repo_slots.SlotHold] = {}  # run token → its slot
        self._noted: set[str] = set()

    def full(self, kind: str) -> set[str]:
        """The repositories of `kind` last found at their cap, until it is time to read them again."""
        now = time.monotonic()
        full = self._full[kind]
        for repo in [repo for repo, until in full.items() if until <= now]:
            del full[repo]
        return set(full)

    def expiry(self) -> datetime:
        """A slot outlives its run's lease by a quarter lease: the run stops writing when its lease is
        out (`JobRun.fence_on_expiry`), so by the time the slot can be taken over the run is over."""
        return utc_now() + timedelta(seconds=self.lease_seconds * SLOT_MARGIN)

    async def take(self, kind: str, repo: str, cap: int, job_id: str) -> repo_slots.SlotHold | None:
        """A slot for a run about to claim `job_id` (its lease token is the hold's), or None at the cap."""
        hold = await repo_slots.acquire(self.database, kind, repo, cap, uuid.uuid4().hex, job_id, self.expiry())
        if hold is None:
            self._full[kind][repo] = time.monotonic() + FULL_RECHECK_SECONDS
        return hold

    def held_by(self, run: JobRun, hold: repo_slots.SlotHold) -> None:
        self._holds[run.token] = hold
        run.fence_on_expiry = True

    async def give_back(self, hold: repo_slots.SlotHold) -> None:
        await repo_slots.release(self.database, hold)

    async def note_waiting(self, kind: str, cap: int, job_id: str, repo: str) -> None:
        """Say on the waiting job why it waits (once per job and process: one small write)."""
        if job_id in self._noted:
            return
        if len(self._noted) > MAX_NOTED:
            self._noted.clear()
        self._noted.add(job_id)
        step = f"waiting for a slot: {cap} {kind}s of repository {repo} are running (its cap)"
        await jobs(self.database).update_one(
            {"_id": job_id, "status": JobStatus.pending, "progress.step": {"$ne": step}},
            {"$set": {"progress.step": step}},
        )

    def noted(self, job_id: str) -> bool:
        return job_id in self._noted

    async def release(self, run: JobRun) -> bool:
        """Free the run's slot once its last write is done; True if it held one. (A slot left by a
        failed release frees when it runs out.)"""
        hold = self._holds.pop(run.token, None)
        if hold is None:
            return False
        try:
            await repo_slots.release(self.database, hold)
        except PyMongoError as error:
            log.warning("cannot free a repository slot", extra={"job_id": run.job_id, "error": str(error)[:200]})
        self._full[run.job.kind].pop(run.job.repo_guid, None)
        return True

    async def extend(self, run: JobRun) -> bool:
        """Keep the run's slot as long as its lease; False when it was taken over (its lease ran out
        unseen): the run must then hand its job back rather than run past the cap."""
        hold = self._holds.get(run.token)
        if hold is None or await repo_slots.extend(self.database, hold, self.expiry()):
            return True
        self._holds.pop(run.token, None)
        return False
