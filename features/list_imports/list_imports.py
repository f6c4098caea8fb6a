"""`GET /spark/import?repo_guid=&status=&limit=&cursor=` — one repository's imports, newest first.

200 with `{total, jobs, next_cursor}`; 422 when `repo_guid` is missing or a parameter is out of range.
The repository is the one named in each import document's `asset`.
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


class ImportSummary(BaseModel):
    import_id: str
    status: JobStatus
    priority: Priority
    full_path: str
    import_job_name: str | None
    items_total: int
    items_created: int
    items_failed: int
    created_at: datetime
    completed_at: datetime | None
    error: str | None


class ImportList(BaseModel):
    total: int
    jobs: list[ImportSummary]
    next_cursor: str | None


router = APIRouter(tags=["imports"])


@router.get(
    "/spark/import",
    response_model=ImportList,
    responses=problem_responses(401, 422),
    summary="A repository's import jobs, newest first",
)
async def list_imports(
    database: DatabaseDep,
    repo_guid: Annotated[str, Query(min_length=1, max_length=255)],
    status: Annotated[JobStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ImportList:
    return await handle(database, repo_guid, status, limit, cursor)


SUMMARY_FIELDS = (
    "status",
    "priority",
    "payload.asset.fullPath",
    "payload.import_job_name",
    "result.items_total",
    "result.items_created",
    "result.items_failed",
    "completed_at",
    "error",
)


async def handle(
    database: Database, repo_guid: str, status: JobStatus | None, limit: int, cursor: str | None
) -> ImportList:
    page = await list_jobs(database, "import", repo_guid, status, limit, cursor, SUMMARY_FIELDS)
    return ImportList(
        total=page.total,
        next_cursor=page.next_cursor,
        jobs=[
            ImportSummary(
                import_id=job["_id"],
                status=job["status"],
                priority=job.get("priority", DEFAULT_PRIORITY),
                full_path=job["payload"]["asset"]["fullPath"],
                import_job_name=job["payload"].get("import_job_name"),
                items_total=job["result"]["items_total"],
                items_created=job["result"]["items_created"],
                items_failed=job["result"]["items_failed"],
                created_at=job["created_at"],
                completed_at=job.get("completed_at"),
                error=job.get("error"),
            )
            for job in page.jobs
        ],
    )
