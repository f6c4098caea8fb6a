"""Per-repository caps across every replica (SPEC §7, "Per-repository caps").

One document per kind and repository, `{_id: "export:<repo_guid>", s0: holder, s1: holder, ...}`,
with one field per slot up to the cap; a holder is `{token, job_id, expires}`, `null` when free. A
claim takes a slot before it takes the job, by compare-and-set on one field: the update matches only
if that field still holds what the claimer read (free, or a holder whose lease has expired). So at
most `cap` claims hold a slot at once, with single-document atomic updates only (no positional
operator, no arrays to count). A slot's `expires` follows its run's lease (a quarter lease longer,
set by the runner): the heartbeat extends both, the run's end frees the slot, and a slot whose run
died (kill -9) is taken over once it is out, so a slot never leaks.

Cost, only with a cap set: a read and a write per claim, a write per heartbeat and one at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.db import Database
from shared.jobs import utc_now

SLOTS_COLLECTION = "repo_slots"


def slots(database: Database):
    return database.collection(SLOTS_COLLECTION)


def slot_document_id(kind: str, repo_guid: str) -> str:
    return f"{kind}:{repo_guid}"


@dataclass(frozen=True)
class SlotHold:
    """One slot held by one run: where it is and the token that proves it is this run's."""

    document_id: str
    field: str
    token: str


def _live(holder: Any, now: datetime) -> bool:
    return isinstance(holder, dict) and holder.get("expires") is not None and holder["expires"] >= now


async def acquire(
    database: Database, kind: str, repo_guid: str, cap: int, token: str, job_id: str, expires: datetime
) -> SlotHold | None:
    """A slot of this repository for the run with `token`, or None while `cap` runs hold one."""
    document_id = slot_document_id(kind, repo_guid)
    document = await slots(database).find_one({"_id": document_id}) or {}
    now = utc_now()
    fields = [f"s{index}" for index in range(cap)]
    live = sum(1 for name, holder in document.items() if name.startswith("s") and _live(holder, now))
    if live >= cap:
        return None
    holder = {"token": token, "job_id": job_id, "expires": expires}
    for name in fields:
        seen = document.get(name)
        if _live(seen, now):
            continue
        if await _compare_and_set(database, document_id, name, seen, holder, upsert=not document):
            return SlotHold(document_id, name, token)
    return None  # others took the free slots between the read and the writes


async def _compare_and_set(
    database: Database, document_id: str, name: str, seen: Any, holder: dict[str, Any], upsert: bool
) -> bool:
    """Set slot `name` to `holder` if it still holds `seen` (null, or the same expired holder)."""
    if isinstance(seen, dict):
        expected = {f"{name}.token": seen.get("token"), f"{name}.expires": seen.get("expires")}
    else:
        expected = {name: None}
    try:
        outcome = await slots(database).update_one(
            {"_id": document_id, **expected}, {"$set": {name: holder}}, upsert=upsert
        )
    except DuplicateKeyError:  # the document appeared meanwhile and this slot was not free in it
        return False
    return outcome.modified_count == 1 or outcome.upserted_id is not None


async def extend(database: Database, hold: SlotHold, expires: datetime) -> bool:
    """Move the slot's expiry with its run's lease; False if the slot is no longer this run's."""
    outcome = await slots(database).update_one(
        {"_id": hold.document_id, f"{hold.field}.token": hold.token}, {"$set": {f"{hold.field}.expires": expires}}
    )
    return outcome.matched_count == 1


async def release(database: Database, hold: SlotHold) -> None:
    """Free the slot, if it is still this run's (one taken over after expiry is left alone)."""
    await slots(database).update_one(
        {"_id": hold.document_id, f"{hold.field}.token": hold.token}, {"$set": {hold.field: None}}
    )


async def held_by(database: Database, kind: str, repo_guid: str) -> list[dict[str, Any]]:
    """The live holders of a repository's slots (for tests and the console)."""
    document = await slots(database).find_one({"_id": slot_document_id(kind, repo_guid)}) or {}
    now = utc_now()
    return [holder for name, holder in document.items() if name.startswith("s") and _live(holder, now)]
