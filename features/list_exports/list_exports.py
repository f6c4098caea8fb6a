"""`GET /spark?repo_guid=&status=&limit=&cursor=` — one repository's exports, newest first.

200 with `{total, jobs, next_cursor}`; 422 when `repo_guid` is missing or a parameter is out of range.
`next_cursor` names the last job of the page, so the next page is stable while new jobs arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from shared.db import Database, DatabaseDep
from shared.jobs import JobStatus, list_jobs
from shared.priority import DEFAULT_PRIORITY, Priority
from shared.problems import problem_responses

ExportStatusFilter = JobStatus


class ExportSummary(BaseModel):
    spark_id: str
    status: JobStatus
    priority: Priority
    full_path: str | None
    progress_percent: float
    attempts: int
    created_at: datetime
    completed_at: datetime | None
    error: str | None


class ExportList(BaseModel):
    total: int
    jobs: list[ExportSummary]
    next_cursor: str | None


router = APIRouter(tags=["exports"])


@router.get(
    "/spark",
    response_model=ExportList,
    responses=problem_responses(401, 422),
    summary="A repository's export jobs, newest first",
)
async def list_exports(
    database: DatabaseDep,
    repo_guid: Annotated[str, Query(min_length=1, max_length=255)],
    status: Annotated[ExportStatusFilter | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ExportList:
    return await handle(database, repo_guid, status, limit, cursor)


SUMMARY_FIELDS = (
    "status",
    "priority",
    "payload.inputs.full_path",
    "progress.percent",
    "attempts",
    "completed_at",
    "error",
)


async def handle(
    database: Database, repo_guid: str, status: JobStatus | None, limit: int, cursor: str | None
) -> ExportList:
    page = await list_jobs(database, "export", repo_guid, status, limit, cursor, SUMMARY_FIELDS)
    return ExportList(
        total=page.total,
        next_cursor=page.next_cursor,
        jobs=[
            ExportSummary(
                spark_id=job["_id"],
                status=job["status"],
                priority=job.get("priority", DEFAULT_PRIORITY),
                full_path=job["payload"]["inputs"].get("full_path"),
                progress_percent=job["progress"]["percent"],
                attempts=job["attempts"],
                created_at=job["created_at"],
                completed_at=job.get("completed_at"),
                error=job.get("error"),
            )
            for job in page.jobs
        ],
    )
