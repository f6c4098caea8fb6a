"""`GET /spark/{spark_id}/status` — the small answer a client polls: status, progress, attempts, times.

200; 404 for an unknown or malformed id. Reads the primary, so it sees every write the job made.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from shared.db import Database, DatabaseDep
from shared.jobs import JobStatus, find_job_fields
from shared.priority import DEFAULT_PRIORITY, Priority
from shared.problems import problem_responses


class StatusProgress(BaseModel):
    percent: float
    step: str


class ExportStatus(BaseModel):
    spark_id: str
    status: JobStatus
    priority: Priority
    progress: StatusProgress
    attempts: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None


router = APIRouter(tags=["exports"])


@router.get(
    "/spark/{spark_id:uuid}/status",
    response_model=ExportStatus,
    responses=problem_responses(401, 404),
    summary="Status and progress of an export job",
)
async def get_export_status(spark_id: uuid.UUID, database: DatabaseDep) -> ExportStatus:
    return await handle(database, str(spark_id))


STATUS_FIELDS = ("status", "priority", "progress", "attempts", "created_at", "started_at", "completed_at", "error")


async def handle(database: Database, spark_id: str) -> ExportStatus:
    job = await find_job_fields(database, "export", spark_id, STATUS_FIELDS)
    return ExportStatus(
        spark_id=job["_id"],
        status=job["status"],
        priority=job.get("priority", DEFAULT_PRIORITY),
        progress=StatusProgress(**job["progress"]),
        attempts=job["attempts"],
        created_at=job["created_at"],
        started_at=job.get("started_at"),
        completed_at=job.get("completed_at"),
        error=job.get("error"),
    )
