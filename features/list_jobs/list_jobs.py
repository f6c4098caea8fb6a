"""`GET /jobs?kind=&status=&repo_guid=&priority=&created_after=&created_before=&q=&limit=&cursor=` —
jobs of both kinds by a filter, newest first (the console's job list; SPEC §10).

200 with `{total, jobs, next_cursor}`. Every parameter is optional and each one narrows the set:
`status` may be given more than once (any of them); `created_after` / `created_before` are exclusive
and need a time zone; `q` is a literal, matched case-insensitively in the job's id, name (an export's
`inputs.full_path`, an import's `import_job_name` or `asset.fullPath`) and error. `next_cursor` names
the last job of the page, with the same cursors as `GET /spark`, so the next page is stable while new
jobs arrive. 422 for a parameter out of range or a cursor this service did not give out. The same
filter, given to `POST /jobs/retry`, retries the same jobs.

`live=true` is for pages that poll (the console's list): every poller of the same page on a replica
shares one look a second, and may get the previous answer while the next look runs. Without it the
answer is read for this request, so a client sees its own retry or cancel at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, Field

from shared.db import Database, DatabaseDep
from shared.job_search import JobFilter, in_utc_range, search_jobs, search_jobs_shared
from shared.jobs import JobStatus
from shared.priority import Priority
from shared.problems import problem_responses

JobKindName = Literal["export", "import"]


def _has_zone(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError("needs a time zone (e.g. 2026-01-31T12:00:00Z)")
    return in_utc_range(moment)


def _no_nul(value: str | None) -> str | None:
    # MongoDB refuses a NUL in a regular expression: a 422 here, not a 500 from the server.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Moment = Annotated[datetime | None, AfterValidator(_has_zone)]
Text = Annotated[str | None, AfterValidator(_no_nul)]


class JobSummary(BaseModel):
    id: str
    kind: JobKindName
    repo_guid: str
    status: JobStatus
    priority: Priority
    name: str | None = Field(description="an export's inputs.full_path; an import's name or asset.fullPath")
    progress_percent: float
    progress_step: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    error: str | None


class JobList(BaseModel):
    total: int = Field(description="jobs the filter matches")
    jobs: list[JobSummary]
    next_cursor: str | None


router = APIRouter(tags=["operations"])


@router.get(
    "/jobs",
    response_model=JobList,
    responses=problem_responses(401, 422),
    summary="Jobs of both kinds by a filter, newest first",
)
async def list_jobs(
    database: DatabaseDep,
    kind: Annotated[JobKindName | None, Query()] = None,
    status: Annotated[list[JobStatus] | None, Query(description="any of these; may be repeated")] = None,
    repo_guid: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    priority: Annotated[Priority | None, Query()] = None,
    created_after: Annotated[Moment, Query(description="exclusive; with a time zone")] = None,
    created_before: Annotated[Moment, Query(description="exclusive; with a time zone")] = None,
    q: Annotated[Text, Query(min_length=1, max_length=200, description="text in the id, name or error")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    live: Annotated[
        bool, Query(description="for pollers: shared with every poller of this page, up to a second old (or more)")
    ] = False,
) -> JobList:
    job_filter = JobFilter(
        kind=kind,
        statuses=tuple(status or ()),
        repo_guid=repo_guid,
        priority=priority,
        created_after=created_after,
        created_before=created_before,
        text=q,
    )
    return await handle(database, job_filter, limit, cursor, live)


async def handle(
    database: Database, job_filter: JobFilter, limit: int, cursor: str | None, live: bool = False
) -> JobList:
    search = search_jobs_shared if live else search_jobs
    page = await search(database, job_filter, limit, cursor)
    return JobList(
        total=page.total,
        jobs=[JobSummary.model_validate(job) for job in page.jobs],
        next_cursor=page.next_cursor,
    )
