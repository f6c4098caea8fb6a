"""`GET /spark/{spark_id}` — one export job: its work order, status, progress, errors and manifest.

200 with the job; 404 for an unknown or malformed id. The manifest (SPEC §5) is there once the job
is `completed`, and for a `failed` job it lists what was written before the failure.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from shared.db import DatabaseDep
from shared.jobs import JobStatus, load_job_or_404
from shared.priority import Priority
from shared.problems import problem_responses


class ExportProgress(BaseModel):
    percent: float
    step: str


class ExportError(BaseModel):
    artifact: str | None
    code: str
    message: str


class ExportRun(BaseModel):
    attempt: int | None = None
    worker_id: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None


class ExportJobView(BaseModel):
    spark_id: str
    status: JobStatus
    priority: Priority
    repo_guid: str
    work_order: dict[str, Any]
    progress: ExportProgress
    attempts: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    error: str | None
    errors: list[ExportError]
    cancel_requested: bool
    manifest: dict[str, Any] | None
    package: dict[str, Any] | None
    runs: list[ExportRun]


router = APIRouter(tags=["exports"])


@router.get(
    "/spark/{spark_id:uuid}",
    response_model=ExportJobView,
    responses=problem_responses(401, 404),
    summary="One export job with its work order, progress, errors and manifest",
)
async def get_export(spark_id: uuid.UUID, database: DatabaseDep) -> ExportJobView:
    return await handle(database, str(spark_id))


async def handle(database: Any, spark_id: str) -> ExportJobView:
    job = await load_job_or_404(database, "export", spark_id, "export")
    return ExportJobView(
        spark_id=job.id,
        status=job.status,
        priority=job.priority,
        repo_guid=job.repo_guid,
        work_order=job.payload,
        progress=ExportProgress(**job.progress),
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        updated_at=job.updated_at,
        error=job.error,
        errors=[ExportError(**error) for error in job.errors],
        cancel_requested=job.cancel_requested,
        manifest=job.result.get("manifest"),
        package=job.result.get("package"),
        runs=[ExportRun(**{key: run.get(key) for key in ExportRun.model_fields}) for run in job.runs],
    )
