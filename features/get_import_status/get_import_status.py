"""`GET /spark/import/{import_id}/status` — what a client polls: status, progress, counts, error.

200; 404 for an unknown or malformed id.
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


class ImportStatusProgress(BaseModel):
    percent: float
    step: str


class ImportStatus(BaseModel):
    import_id: str
    status: JobStatus
    priority: Priority
    progress: ImportStatusProgress
    attempts: int
    items_total: int
    items_created: int
    items_failed: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None


router = APIRouter(tags=["imports"])


@router.get(
    "/spark/import/{import_id:uuid}/status",
    response_model=ImportStatus,
    responses=problem_responses(401, 404),
    summary="Status, progress and counts of an import job",
)
async def get_import_status(import_id: uuid.UUID, database: DatabaseDep) -> ImportStatus:
    return await handle(database, str(import_id))


STATUS_FIELDS = (
    "status",
    "priority",
    "progress",
    "attempts",
    "result.items_total",
    "result.items_created",
    "result.items_failed",
    "created_at",
    "started_at",
    "completed_at",
    "error",
)


async def handle(database: Database, import_id: str) -> ImportStatus:
    job = await find_job_fields(database, "import", import_id, STATUS_FIELDS)
    return ImportStatus(
        import_id=job["_id"],
        status=job["status"],
        priority=job.get("priority", DEFAULT_PRIORITY),
        progress=ImportStatusProgress(**job["progress"]),
        attempts=job["attempts"],
        items_total=job["result"]["items_total"],
        items_created=job["result"]["items_created"],
        items_failed=job["result"]["items_failed"],
        created_at=job["created_at"],
        started_at=job.get("started_at"),
        completed_at=job.get("completed_at"),
        error=job.get("error"),
    )
