"""Machinery of the differential test of our FerretDB pushdowns (`test_ferretdb_pushdown.py`).

Two embedded servers on folders of their own: `pushed` with our SQLite pushdowns, `reference` started
with `-no-pushdown`, which answers every query as upstream FerretDB does, in Go. Every operation runs
on both, on an indexed and an unindexed database each, and the answers must be the same to the byte:
results are compared as canonical extended JSON, which keeps field order and BSON types (an int32 is
not an int64 is not a double), so "equal in Python" is not enough.

An operation (`Op`) is an async function of a `Target` (one database on one server) that returns
something JSON-able. Reads that MongoDB leaves unordered (no sort, or ties of a sort without `_id`)
return a normal form instead of the raw order, since either server may legitimately return those
in any order.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import struct
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bson
from bson import json_util
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError
from pymongo.results import BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from shared.db import Database
from shared.job_search import JobFilter, count_jobs, search_jobs
from shared.problems import Problem
from tools.embedded_mongo import EmbeddedMongo

JOBS = "jobs"
RAW = CodecOptions(document_class=RawBSONDocument, tz_aware=True, uuid_representation=UuidRepresentation.STANDARD)
# Failures a read may legitimately end in, the same on both servers: the server's errors, and the
# app's on odd jobs (its 422 for a cursor of a non-UUID id; the summary of a job with no `created_at`,
# or whose kind is a list).
EXPECTED_FAILURES = (PyMongoError, Problem, KeyError, TypeError)


def canonical(value: Any) -> str:
    """Type-exact, order-keeping JSON: what "the same answer" means here."""
    return json_util.dumps(value, json_options=json_util.CANONICAL_JSON_OPTIONS)


def rendered(value: Any) -> list[str]:
    """`canonical`, item by item for a list, so that a difference can be pointed at."""
    if isinstance(value, list | tuple):
        return [canonical(item) for item in value]
    return [canonical(value)]


def first_difference(reference: list[str], answer: list[str]) -> str:
    """Where two rendered answers part (this module's asserts are not rewritten by pytest)."""
    at = next(index for index, pair in enumerate(itertools.zip_longest(reference, answer)) if len(set(pair)) > 1)
    lines = [f"first difference at item {at} (of {len(reference)} from the reference, {len(answer)} pushed)"]
    for side, items in (("reference", reference), ("pushed", answer)):
        lines.append(f"  {side}: {items[at][:1500] if at < len(items) else '(nothing)'}")
    return "\n".join(lines)


def duplicate_key_filter(key: str, first: Any, second: Any) -> RawBSONDocument:
    """A filter naming `key` twice, which no Python dict can: built from BSON bytes."""
    elements = bson.encode({key: first})[4:-1] + bson.encode({key: second})[4:-1]
    return RawBSONDocument(struct.pack("<i", len(elements) + 5) + elements + b"\x00", RAW)


@dataclass
class Target:
    """One database on one server: the app's handle (dict documents) and raw views for exact reads."""

    database: Database

    def raw(self, collection: str = JOBS) -> AsyncCollection:
        return self.database.db.get_collection(collection, codec_options=RAW)


Op = Callable[[Target], Awaitable[Any]]


async def outcome(op: Op, target: Target) -> Any:
    try:
        return await op(target)
    except EXPECTED_FAILURES as failure:
        return {"failed": type(failure).__name__, "message": str(failure)}


def failed(answer: Any) -> bool:
    return isinstance(answer, dict) and set(answer) == {"failed", "message"}


class Servers:
    """The two servers, restartable on their folders (a restart is what rebuilds a pushdown's records)."""

    def __init__(self, root: Path) -> None:
        self.folders = {"reference": root / "reference", "pushed": root / "pushed"}
        self.servers: dict[str, EmbeddedMongo] = {}
        self.clients: dict[str, AsyncMongoClient] = {}

    async def start(self) -> None:
        await asyncio.to_thread(self._start_servers)
        for side, server in self.servers.items():
            self.clients[side] = AsyncMongoClient(server.url, tz_aware=True, uuidRepresentation="standard")

    def _start_servers(self) -> None:
        # One after the other, each once it answers a ping; a failed start stops the one already up.
        try:
            for side, folder in self.folders.items():
                self.servers[side] = EmbeddedMongo(folder, pushdown=side == "pushed").start()
        except Exception:
            for server in self.servers.values():
                server.stop()
            raise

    async def stop(self) -> None:
        for client in self.clients.values():
            await client.close()
        for server in self.servers.values():
            server.stop()
        self.clients.clear()
        self.servers.clear()

    async def restart(self) -> None:
        """Both servers stopped and started again on their folders: what rebuilds a pushdown's records."""
        await self.stop()
        await self.start()

    def target(self, side: str, name: str) -> Target:
        client = self.clients[side]
        return Target(Database(client=client, db=client[name], catalog_client=client, catalog=client[name]["catalog"]))


@dataclass
class Diff:
    """One test's databases (`indexed` has the app's indexes, `bare` none) on both servers."""

    servers: Servers
    kinds: tuple[str, ...] = ("indexed", "bare")
    names: dict[str, str] = field(init=False)
    reference_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = {kind: f"{kind}_{uuid.uuid4().hex[:10]}" for kind in self.kinds}

    def pairs(self) -> list[tuple[str, Target, Target]]:
        return [
            (kind, self.servers.target("reference", name), self.servers.target("pushed", name))
            for kind, name in self.names.items()
        ]

    async def create_indexes(self, indexes: dict[str, Sequence[IndexModel]]) -> None:
        """The app's indexes, on the indexed database of both servers (one at a time, as the app does)."""
        indexed = [target for kind, *sides in self.pairs() if kind == "indexed" for target in sides]
        await asyncio.gather(*(target.database.ensure_indexes(indexes) for target in indexed))

    async def same(self, label: str, op: Op) -> list[Any]:
        """Run `op` on every database of both servers; the pushed server must answer as the reference.
        Gives back the reference's answers (indexed, bare)."""
        pairs = self.pairs()
        answers = await asyncio.gather(*(outcome(op, target) for _, *sides in pairs for target in sides))
        references, pushed = answers[0::2], answers[1::2]
        for (kind, *_), reference, answer in zip(pairs, references, pushed, strict=True):
            expected, found = rendered(reference), rendered(answer)
            assert found == expected, f"{label} [{kind} database]\n{first_difference(expected, found)}"
            if failed(reference):
                self.reference_failures.append(f"{label}: {reference['message'][:200]}")
        return references

    async def all_same(self, when: str, reads: Sequence[tuple[str, Op]], at_once: int = 8) -> list[Any]:
        """`same` for many reads, `at_once` of them at a time (reads only: they cannot disturb each
        other, and the servers, mostly waiting on round trips one at a time, get both cores' worth)."""
        answers: list[Any] = []
        for start in range(0, len(reads), at_once):
            chunk = reads[start : start + at_once]
            answers += await asyncio.gather(*(self.same(f"{when}: {label}", op) for label, op in chunk))
        return answers

    async def drop(self) -> None:
        for _, reference, pushed in self.pairs():
            await asyncio.gather(
                reference.database.client.drop_database(reference.database.db.name),
                pushed.database.client.drop_database(pushed.database.db.name),
            )


# --- reads ---------------------------------------------------------------------------------------

Sort = list[tuple[str, int]]


def is_total(sort: Sort | None) -> bool:
    """Whether `sort` orders every document (it ends at the unique `_id`): only then is the order exact."""
    return bool(sort) and any(key == "_id" for key, _ in sort)


def sort_key(document: RawBSONDocument, sort: Sort) -> str:
    """The values a document is sorted by, as one comparable text (a missing field says so)."""
    values = []
    for key, _ in sort:
        value: Any = document
        for part in key.split("."):
            value = value.get(part, "<missing>") if isinstance(value, RawBSONDocument) else "<missing>"
        values.append(value)
    return canonical(values)


def find(
    query: Any,
    sort: Sort | None = None,
    limit: int = 0,
    skip: int = 0,
    projection: Any = None,
    batch_size: int = 0,
    collection: str = JOBS,
) -> Op:
    """A find, read to the end (small `batch_size`s page through getMore)."""

    async def run(target: Target) -> Any:
        found = await _find(target, collection, query, sort, limit, skip, projection, batch_size)
        if is_total(sort):
            return found
        everything = await _find(target, collection, query, sort, 0, 0, projection, 0) if limit or skip else found
        return _unordered_answer(found, everything, sort)

    return run


async def _find(target: Target, collection: str, query, sort, limit, skip, projection, batch_size) -> list:
    cursor = target.raw(collection).find(query, projection, sort=sort, limit=limit, skip=skip, batch_size=batch_size)
    return await cursor.to_list(None)


def _unordered_answer(found: list, everything: list, sort: Sort | None) -> dict[str, Any]:
    """What MongoDB promises of a read whose order is not total: the sort keys in order, and the
    documents as a set; cut by a limit or skip, only how many, and that each is one that matches."""
    answer: dict[str, Any] = {
        "count": len(found),
        "keys": [sort_key(document, sort) for document in found] if sort else [],
    }
    if found is everything:
        answer["documents"] = sorted(canonical(document) for document in found)
    else:
        matching = {canonical(document) for document in everything}
        answer["all_match"] = all(canonical(document) in matching for document in found)
    return answer


def find_one(query: Any, sort: Sort, projection: Any = None) -> Op:
    async def run(target: Target) -> Any:
        return await target.raw().find_one(query, projection, sort=sort)

    return run


def count(query: Any, collection: str = JOBS, **options: int) -> Op:
    """The `count` command (what `count_jobs` sends), with its own `limit`/`skip` when given."""

    async def run(target: Target) -> Any:
        answer = await target.database.db.command({"count": collection, "query": query, **options})
        return answer["n"]

    return run


def count_documents(query: Any) -> Op:
    """The driver's count: an aggregation (`$match`, `$group`), another path through FerretDB."""

    async def run(target: Target) -> Any:
        return await target.raw().count_documents(query)

    return run


def distinct(key: str, query: Any) -> Op:
    async def run(target: Target) -> Any:
        return sorted(canonical(value) for value in await target.raw().distinct(key, query))

    return run


def walk_pages(query: dict[str, Any], page_size: int, descending: bool = True, max_pages: int = 60) -> Op:
    """Pages by the last job seen, as the app's cursors do, but for any `_id` (the app's own cursor
    only takes UUIDs): the page query is the app's `$or` of "older" and "as old, smaller id"."""
    direction, before = (-1, "$lt") if descending else (1, "$gt")
    sort = [("created_at", direction), ("_id", direction)]

    async def run(target: Target) -> Any:
        pages, page_query = [], query
        for _ in range(max_pages):
            found = await target.raw().find(page_query, sort=sort, limit=page_size + 1).to_list(None)
            pages.append([document["_id"] for document in found[:page_size]])
            if len(found) <= page_size:
                break
            last = found[page_size - 1]
            moment = last.get("created_at")
            page_query = {
                "$and": [
                    query,
                    {"$or": [{"created_at": {before: moment}}, {"created_at": moment, "_id": {before: last["_id"]}}]},
                ]
            }
        return pages

    return run


def search_pages(job_filter: JobFilter, limit: int, max_pages: int = 40) -> Op:
    """`search_jobs` pages of a filter, each cursor followed to the end: the app's own list path."""

    async def run(target: Target) -> Any:
        pages, cursor = [], None
        for _ in range(max_pages):
            page = await search_jobs(target.database, job_filter, limit, cursor)
            pages.append({"total": page.total, "jobs": page.jobs, "next": page.next_cursor})
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        return pages

    return run


def jobs_counted(query: dict[str, Any]) -> Op:
    async def run(target: Target) -> Any:
        return await count_jobs(target.database, query)

    return run


# --- writes --------------------------------------------------------------------------------------


def write(method: str, *args: Any, collection: str = JOBS, **options: Any) -> Op:
    """A collection write (`insert_many`, `update_one`, `find_one_and_update`, ...) and what it answered."""

    async def run(target: Target) -> Any:
        # A copy per server: the driver may add to the documents it is given.
        answer = await getattr(target.raw(collection), method)(*copy.deepcopy(args), **copy.deepcopy(options))
        return _write_summary(answer)

    return run


def _write_summary(answer: Any) -> Any:
    if isinstance(answer, InsertOneResult):
        return {"inserted": answer.inserted_id}
    if isinstance(answer, InsertManyResult):
        return {"inserted": answer.inserted_ids}
    if isinstance(answer, UpdateResult):
        return {"matched": answer.matched_count, "modified": answer.modified_count, "upserted": answer.upserted_id}
    if isinstance(answer, DeleteResult):
        return {"deleted": answer.deleted_count}
    if isinstance(answer, BulkWriteResult):
        return answer.bulk_api_result
    if isinstance(answer, AsyncCollection):
        return {"renamed to": answer.name}
    return answer  # a document, or None: find_one_and_*
