"""The service's MongoDB handles: our database (jobs, import batches) and the Fabric catalog collection.

Built in the lifespan, closed on shutdown, handed to routes as `DatabaseDep`. The driver is PyMongo's
native asyncio client: Motor, which ran every command in a worker thread, reached its end of life in
May 2026, and the thread hop cost about 0.1 ms of CPU per command (docs/decisions.md). Writes use
majority write concern and reads the primary (SPEC §7), so a status read after a write sees it. The client
connects lazily with short timeouts: a service whose database is down still starts and answers
`/health` with 503 instead of crash-looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.settings import Settings

CATALOG_COLLECTION = "catalogAIEnrichedTimelineEvents"
SERVER_SELECTION_TIMEOUT_MS = 3000
log = logging.getLogger("ai_spark.db")


def _client(url: str) -> AsyncMongoClient:
    # No I/O here: the asyncio client connects on its first command.
    return AsyncMongoClient(
        url,
        w="majority",
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        connectTimeoutMS=SERVER_SELECTION_TIMEOUT_MS,
        appname="ai-spark",
    )


@dataclass
class Database:
    client: AsyncMongoClient
    db: AsyncDatabase
    catalog_client: AsyncMongoClient
    catalog: AsyncCollection
    # Built once per name: a collection object costs more to make than many a query it serves.
    _collections: dict[str, AsyncCollection] = field(default_factory=dict, repr=False, compare=False)
    _indexes_ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    def collection(self, name: str) -> AsyncCollection:
        if name not in self._collections:
            self._collections[name] = self.db[name]
        return self._collections[name]

    async def ping(self) -> float:
        """Round trip to the server in milliseconds; raises `PyMongoError` when it is unreachable."""
        started = time.perf_counter()
        await self.client.admin.command("ping")
        return (time.perf_counter() - started) * 1000

    async def ping_catalog(self) -> float:
        """A cheap scoped read that proves the catalog collection answers."""
        started = time.perf_counter()
        # Scoped like every catalog query; the `_id` makes it a lookup even without an index.
        await self.catalog.find_one({"_id": "__health__", "repoGuid": "__health__"}, projection={"_id": 1})
        return (time.perf_counter() - started) * 1000

    async def ensure_indexes(self, indexes: Mapping[str, Sequence[IndexModel]]) -> None:
        for collection, models in indexes.items():
            # One command per index: FerretDB v1 panics when a batch re-creates existing indexes
            # ("slice bounds out of range"), and one at a time costs nothing on MongoDB.
            for model in models:
                await self.db[collection].create_indexes([model])
        self._indexes_ready.set()

    async def indexes_ready(self, within: float) -> bool:
        """Whether `ensure_indexes` has run, waiting up to `within` seconds for it (start-up runs it
        in the background, so the first requests can arrive before a unique index exists)."""
        if not self._indexes_ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._indexes_ready.wait(), timeout=within)
        return self._indexes_ready.is_set()

    async def close(self) -> None:
        await self.client.close()
        if self.catalog_client is not self.client:
            await self.catalog_client.close()


def connect(settings: Settings) -> Database:
    """Handles for our database and the catalog; no network I/O happens until first use."""
    client = _client(settings.mongodb_url)
    catalog_client = (
        client if settings.catalog_mongodb_url == settings.mongodb_url else _client(settings.catalog_mongodb_url)
    )
    return Database(
        client=client,
        db=client[settings.mongodb_db_name],
        catalog_client=catalog_client,
        catalog=catalog_client[settings.fabric_catalog_db][CATALOG_COLLECTION],
    )


async def ensure_indexes_when_reachable(
    database: Database, indexes: Mapping[str, Iterable[IndexModel]], retry_seconds: float = 2.0
) -> None:
    """Create the indexes, retrying while the server is down, so start-up never waits on it."""
    materialised = {name: list(models) for name, models in indexes.items()}
    while True:
        try:
            await database.ensure_indexes(materialised)
        except PyMongoError as error:
            log.warning("indexes not created yet, retrying", extra={"error": str(error)[:300]})
            await asyncio.sleep(retry_seconds)
        else:
            log.info("indexes ready", extra={"collections": sorted(materialised)})
            return


async def get_database(request: Request) -> Database:
    return request.app.state.database


DatabaseDep = Annotated[Database, Depends(get_database)]


def scoped_filter(repo_guid: str, **conditions: Any) -> dict[str, Any]:
    """A catalog filter that always carries the repository: the only way to build one."""
    if not repo_guid:
        raise ValueError("a catalog query needs a repo_guid")
    return {"repoGuid": repo_guid, **{key: value for key, value in conditions.items() if value is not None}}
