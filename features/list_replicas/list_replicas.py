"""`GET /replicas` — the service's processes, from their heartbeat documents (SPEC §10).

200 with `{replicas: [{id, host, pid, version, started_at, last_seen, slots, stale}]}`, by id. Every
process writes its heartbeat a few times per lease (`shared/replicas.py`), so every replica answers
the same list. `stale` marks a replica not seen for 2 × `LEASE_SECONDS` (it stopped, or cannot reach
the database); one not seen for a day is no longer listed.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.db import Database, DatabaseDep
from shared.problems import problem_responses
from shared.replicas import list_replicas as read_replicas


class SlotUse(BaseModel):
    used: int = Field(description="jobs of this kind running on the replica")
    limit: int = Field(description="its concurrency for the kind (0: it runs none)")


class ReplicaSlots(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    export: SlotUse
    import_: SlotUse = Field(alias="import")


class Replica(BaseModel):
    id: str = Field(description="the replica's job runner (worker) id, as in the jobs' run history")
    host: str | None
    pid: int | None
    version: str | None
    started_at: datetime | None
    last_seen: datetime
    slots: ReplicaSlots
    stale: bool = Field(description="not seen for 2 × LEASE_SECONDS")


class ReplicaList(BaseModel):
    replicas: list[Replica]


router = APIRouter(tags=["operations"])


@router.get(
    "/replicas",
    response_model=ReplicaList,
    responses=problem_responses(401),
    summary="The service's processes, from their heartbeats, with the stale ones marked",
)
async def list_replicas(request: Request, database: DatabaseDep) -> ReplicaList:
    return await handle(database, request.app.state.settings.lease_seconds)


async def handle(database: Database, lease_seconds: float) -> ReplicaList:
    return ReplicaList(replicas=[Replica.model_validate(row) for row in await read_replicas(database, lease_seconds)])
