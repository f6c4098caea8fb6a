"""Insight pushes paced across every replica together (SPEC §7), with the state in the database.

One document, `fabric_rate/insights`, holds `next_at` (the earliest moment the next push may go,
epoch seconds) and `paused_until` (set from a 429's `Retry-After`). Before each push a replica reads
it and reserves the next slot with one conditional update on the `next_at` it read (a compare and
swap): `slot = max(now, next_at, paused_until)`, `next_at = slot + 1 / FABRIC_MAX_REQUESTS_PER_SECOND`.
Only one replica wins a given slot; the others read again and take the following one. The winner
sleeps until its slot, checks that no pause began meanwhile, and sends (a replica that wakes up
more than a quarter of a spacing late takes a new slot instead, so a stalled process cannot bunch pushes).
Slots are spaced evenly, so no one-second window holds more than the limit (plus one at its closed
edge).

A transient answer with `Retry-After` (a 429; a 503 says the same) seen by any replica raises
`paused_until` (`$max`, never lowers it), and every replica's next push waits for it, with or
without a rate limit. Times are wall-clock seconds: replicas need synchronised clocks (NTP), as
leases do. `FABRIC_MAX_REQUESTS_PER_SECOND=0` reserves nothing: a push then costs one read, for the
pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.db import Database

RATE_COLLECTION = "fabric_rate"
GATE_ID = "insights"
PAUSE_CAP_SECONDS = 60.0  # a Retry-After beyond this is read as this (the import's own retries cap it too)
log = logging.getLogger("ai_spark.fabric")


class FabricGate:
    """Where a replica waits its turn to push to Fabric."""

    def __init__(self, database: Database, requests_per_second: float) -> None:
        self._collection = database.collection(RATE_COLLECTION)
        self._spacing = 1.0 / requests_per_second if requests_per_second > 0 else 0.0

    async def wait_turn(self) -> float:
        """Return when this replica may send one push: its reserved slot has come and no pause holds.
        The slot's time (epoch seconds) is returned."""
        while True:
            state = await self._collection.find_one({"_id": GATE_ID}) or {}
            now = time.time()
            paused_until = state.get("paused_until") or 0.0
            if not self._spacing:
                if paused_until <= now:
                    return now
                await asyncio.sleep(paused_until - now)
                continue
            slot = max(now, state.get("next_at") or 0.0, paused_until)
            if not await self._reserve(state, slot):
                continue  # another replica took that slot: read again
            if slot > now:
                await asyncio.sleep(slot - now)
                if await self._paused_since():
                    continue  # a 429 came while we waited: this slot is void
            if time.time() - slot > self._spacing / 4:
                # Woken too late (a busy process): sent now, this push would crowd the next slot's.
                continue
            return slot

    async def _reserve(self, state: dict[str, Any], slot: float) -> bool:
        following = {"next_at": slot + self._spacing}
        if not state:
            try:
                await self._collection.insert_one({"_id": GATE_ID, "paused_until": 0.0, **following})
            except DuplicateKeyError:
                return False
            return True
        taken = await self._collection.update_one(
            {"_id": GATE_ID, "next_at": state.get("next_at")}, {"$set": following}
        )
        return taken.matched_count == 1

    async def _paused_since(self) -> bool:
        state = await self._collection.find_one({"_id": GATE_ID}, projection={"paused_until": 1}) or {}
        return (state.get("paused_until") or 0.0) > time.time()

    async def pause(self, retry_after: float) -> None:
        """Every replica's pushes wait `retry_after` seconds from now (a 429's `Retry-After`)."""
        until = time.time() + min(max(retry_after, 0.0), PAUSE_CAP_SECONDS)
        for _ in range(2):  # a concurrent first insert of the document makes one upsert fail
            try:
                await self._collection.update_one({"_id": GATE_ID}, {"$max": {"paused_until": until}}, upsert=True)
            except DuplicateKeyError:
                continue
            break
        log.warning("Fabric asked to slow down; every replica pauses its pushes", extra={"seconds": retry_after})
