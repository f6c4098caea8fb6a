"""`GET /spark/{spark_id}` — one export job: its work order, status, progress, errors and manifest.

200 with the job; 404 for an unknown or malformed id. The manifest (SPEC §5) is there once the job
is `completed`, and for a `failed` job it lists what was written before the failure.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

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
    retry: int = Field(0, description="0 for the job's first round of attempts, n after its n-th manual retry")
    worker_id: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None
    error: str | None = None
    traceback: str | None = Field(None, description="the last lines of the traceback of a run that raised")


class ExportRetry(BaseModel):
    requested_at: datetime
    from_status: JobStatus
    error: str | None = None


# The work order as `POST /spark` accepted it. Its model belongs to the create_export slice, which this
# slice may not import; the schema points at the component that route puts in the OpenAPI document.
WorkOrder = Annotated[dict[str, Any], WithJsonSchema({"allOf": [{"$ref": "#/components/schemas/CreateExportRequest"}]})]
# Fields added to the manifest later (media probing, subclip ranges) must reach clients unchanged.
_OPEN = ConfigDict(extra="allow")


class ManifestCounts(BaseModel):
    model_config = _OPEN

    transcript: int
    events: int
    comments: int
    markers: int
    selects: int
    subclips: int


class ManifestArtifact(BaseModel):
    """One file of the package. `items` is what the file holds (markers, cues, rows); `segments` the
    catalog segments they stand for, when a format merges several into one item (EDL markers)."""

    model_config = _OPEN

    artifact_type: str
    format: str
    path: str
    size: int
    sha256: str
    items: int
    # Absent (not null) where items are segments, exactly as in manifest.json.
    segments: int | None = Field(None, exclude_if=lambda value: value is None)
    url: str


class ExportManifest(BaseModel):
    """`manifest.json` of the package (SPEC §5)."""

    model_config = _OPEN

    spark_id: str
    spark_version: str
    repo_guid: str
    full_path: str
    created_at: datetime
    completed_at: datetime
    frame_rate: str
    drop_frame: bool
    start_timecode: str
    counts: ManifestCounts
    artifacts: list[ManifestArtifact]
    warnings: list[str]


class ExportPackage(BaseModel):
    """The zip of a completed package."""

    path: str
    url: str
    size: int
    sha256: str


class ExportJobView(BaseModel):
    spark_id: str
    status: JobStatus
    priority: Priority
    repo_guid: str
    work_order: WorkOrder
    progress: ExportProgress
    attempts: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime
    error: str | None
    errors: list[ExportError]
    cancel_requested: bool
    manifest: ExportManifest | None
    package: ExportPackage | None
    runs: list[ExportRun]
    retries: list[ExportRetry] = Field(default_factory=list, description="manual retries, oldest first")


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
        runs=[ExportRun(**{key: run[key] for key in ExportRun.model_fields if key in run}) for run in job.runs],
        retries=[ExportRetry(**retry) for retry in job.retries],
    )
