"""`GET /spark/import/{import_id}` — one import job with the result of every batch.

200 with the job: its asset, tag and name, status, progress, counts (`items_total`, `items_created`,
`items_failed`) and `batches [{index, items, status, attempts, http_status, error, resent}]`; 404 for
an unknown or malformed id. The highlights themselves are not repeated here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared.db import Database, DatabaseDep
from shared.jobs import JobStatus, load_job_or_404
from shared.priority import Priority
from shared.problems import problem_responses


class ImportAssetView(BaseModel):
    repo_guid: str
    fullPath: str


class ImportProgress(BaseModel):
    percent: float
    step: str


class ImportBatch(BaseModel):
    index: int
    items: int
    status: Literal["pending", "sending", "accepted", "failed"]
    attempts: int
    http_status: int | None
    error: str | None
    resent: bool


class ImportRun(BaseModel):
    attempt: int | None = None
    retry: int = Field(0, description="0 for the job's first round of attempts, n after its n-th manual retry")
    worker_id: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None
    error: str | None = None
    traceback: str | None = Field(None, description="the last lines of the traceback of a run that raised")


class ImportRetry(BaseModel):
    requested_at: datetime
    from_status: JobStatus
    error: str | None = None


class ImportJobView(BaseModel):
    import_id: str
    status: JobStatus
    priority: Priority
    asset: ImportAssetView
    tag: str | None
    import_job_name: str | None
    progress: ImportProgress
    attempts: int
    items_total: int
    items_created: int
    items_failed: int
    batches: list[ImportBatch]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None
    runs: list[ImportRun] = Field(default_factory=list, description="every attempt, oldest first")
    retries: list[ImportRetry] = Field(default_factory=list, description="manual retries, oldest first")


router = APIRouter(tags=["imports"])


@router.get(
    "/spark/import/{import_id:uuid}",
    response_model=ImportJobView,
    responses=problem_responses(401, 404),
    summary="One import job with the result of every batch",
)
async def get_import(import_id: uuid.UUID, database: DatabaseDep) -> ImportJobView:
    return await handle(database, str(import_id))


async def handle(database: Database, import_id: str) -> ImportJobView:
    job = await load_job_or_404(database, "import", import_id, "import")
    result = job.result
    return ImportJobView(
        import_id=job.id,
        status=job.status,
        priority=job.priority,
        asset=ImportAssetView(**job.payload["asset"]),
        tag=job.payload.get("tag"),
        import_job_name=job.payload.get("import_job_name"),
        progress=ImportProgress(**job.progress),
        attempts=job.attempts,
        items_total=result["items_total"],
        items_created=result["items_created"],
        items_failed=result["items_failed"],
        batches=[ImportBatch(**batch) for batch in result["batches"]],
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        error=job.error,
        runs=[ImportRun(**{key: run[key] for key in ImportRun.model_fields if key in run}) for run in job.runs],
        retries=[ImportRetry(**retry) for retry in job.retries],
    )
