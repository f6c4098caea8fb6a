"""`GET /jobs/stats` — the jobs overview's numbers (SPEC §10), read from the database.

200 with jobs by kind and status, the jobs running now per replica (worker), queue depth and the age
of the oldest pending job, and the last hour's completions, failures and throughput (completed and
partially completed jobs per minute). Every replica answers the same numbers and a restart loses
nothing, since nothing is counted in memory. Each replica looks at most once a second
(`shared/job_stats.py`), however many clients poll: `generated_at` says when the numbers were read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from shared.db import Database, DatabaseDep
from shared.job_stats import job_stats as read_job_stats
from shared.problems import problem_responses


class StatusCounts(BaseModel):
    pending: int
    processing: int
    completed: int
    partially_completed: int
    failed: int
    cancelled: int


class PerKind(BaseModel):
    """A number for each job kind (`import` is spelled out in JSON)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    export: int
    import_: int = Field(alias="import")


class StatusCountsByKind(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    export: StatusCounts
    import_: StatusCounts = Field(alias="import")


class ReplicaRunning(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    worker_id: str = Field(description="the runner that holds the jobs' leases")
    export: int
    import_: int = Field(alias="import")


class QueueStats(BaseModel):
    depth: PerKind = Field(description="pending jobs")
    oldest_pending_age_seconds: float | None = Field(description="None when nothing is pending")


class LastHour(BaseModel):
    completed: PerKind = Field(description="completed (and partially completed) in the last hour")
    failed: PerKind
    throughput_per_minute: float = Field(description="completed and partially completed jobs a minute, both kinds")


class JobStats(BaseModel):
    generated_at: datetime
    by_kind: StatusCountsByKind
    running_per_replica: list[ReplicaRunning]
    queue: QueueStats
    last_hour: LastHour


router = APIRouter(tags=["operations"])


@router.get(
    "/jobs/stats",
    response_model=JobStats,
    responses=problem_responses(401),
    summary="Jobs by kind and status, running per replica, the queue and the last hour (the overview)",
)
async def job_stats(database: DatabaseDep) -> JobStats:
    return await handle(database)


async def handle(database: Database) -> JobStats:
    stats: dict[str, Any] = await read_job_stats(database)
    return JobStats.model_validate(stats)
