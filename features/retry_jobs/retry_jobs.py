"""`POST /jobs/retry` — retry every failed, cancelled or partially completed job that matches a filter.

The body names the filter (`kind`, `repo_guid`, `status`, `priority`, `created_before`,
`created_after`, `q`, `error_contains`): the fields of `GET /jobs`, meaning the same jobs
(`shared/job_search.py`; `q` is text in the id, name or error), plus `error_contains`. Then `dry_run`
(default true) and `limit` (default 1000, at most 10000). 200 with `matched` (how many jobs the
filter matches now), `retried` (how many this call put back to `pending`; 0 on a dry run) and `ids`,
the first of them (up to 100), oldest first. A real run retries at most `limit` jobs, oldest first,
each exactly as `POST .../retry` does (a new round of attempts, history kept); a second call changes
nothing new, because a retried job is no longer failed or cancelled. An unknown field, or a status
that cannot be retried (pending, processing, completed), is a 422.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.job_runner import RunnerDep
from shared.job_search import JobFilter, in_utc_range, job_filter_query
from shared.priority import Priority
from shared.problems import problem_responses
from shared.retry import find_retryable, requeue
from shared.services import Services, ServicesDep

SAMPLE_IDS = 100
log = logging.getLogger("ai_spark.retry")


class RetryJobsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["export", "import"] | None = None
    repo_guid: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    status: list[Literal["failed", "cancelled", "partially_completed"]] = Field(
        default_factory=lambda: ["failed", "cancelled", "partially_completed"],
        min_length=1,
        description="default: every retryable status",
    )
    priority: Priority | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    q: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="text in the job's id, name or error, case-insensitive (as `GET /jobs?q=`)"
    )
    error_contains: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        None, description="a substring of the job's error, case-insensitive"
    )
    dry_run: bool = True
    limit: int = Field(1000, ge=1, le=10_000)

    @field_validator("repo_guid", "q", "error_contains")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # MongoDB refuses a NUL in a regular expression: a 422 here, not a 500 from the server.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value

    @model_validator(mode="after")
    def _times_have_zones(self) -> RetryJobsRequest:
        for name in ("created_before", "created_after"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2026-01-31T12:00:00Z)")
            try:
                in_utc_range(moment)
            except ValueError as error:
                raise ValueError(f"{name} {error}") from None
        return self


class RetryJobsResult(BaseModel):
    dry_run: bool
    matched: int = Field(description="jobs the filter matches (before this call's retries)")
    retried: int = Field(description="jobs this call put back to pending; 0 on a dry run")
    ids: list[str] = Field(description=f"the first {SAMPLE_IDS} ids retried (or, on a dry run, that would be)")


router = APIRouter(tags=["operations"])


@router.post(
    "/jobs/retry",
    response_model=RetryJobsResult,
    responses=problem_responses(401, 413, 422),
    summary="Retry every failed, cancelled or partially completed job matching a filter (dry run by default)",
)
async def retry_jobs(request: RetryJobsRequest, services: ServicesDep, runner: RunnerDep) -> RetryJobsResult:
    result, kinds = await handle(request, services)
    for kind in kinds:
        runner.nudge(kind)
    return result


async def handle(request: RetryJobsRequest, services: Services) -> tuple[RetryJobsResult, set[str]]:
    """The matching jobs, retried unless this is a dry run; also the kinds that got work."""
    found = await find_retryable(services.database, conditions(request), request.limit)
    if request.dry_run:
        sample = [job_id for _, job_id in found.ids[:SAMPLE_IDS]]
        return RetryJobsResult(dry_run=True, matched=found.total, retried=0, ids=sample), set()
    retried: list[str] = []
    kinds: set[str] = set()
    aging_seconds = services.settings.priority_aging_seconds
    for kind, job_id in found.ids:
        # Each one re-checked and changed atomically: a job that changed since the look is left alone.
        if (await requeue(services.database, kind, job_id, aging_seconds)).effect == "requeued":
            retried.append(job_id)
            kinds.add(kind)
    log.info("jobs retried in bulk", extra={"matched": found.total, "retried": len(retried)})
    return RetryJobsResult(dry_run=False, matched=found.total, retried=len(retried), ids=retried[:SAMPLE_IDS]), kinds


def conditions(request: RetryJobsRequest) -> dict[str, Any]:
    """The filter as a query, built as the job list builds it; `status` is always one of the retryable
    ones (the model allows no other)."""
    query = job_filter_query(
        JobFilter(
            kind=request.kind,
            statuses=tuple(request.status),
            repo_guid=request.repo_guid,
            priority=request.priority,
            created_after=request.created_after,
            created_before=request.created_before,
            text=request.q,
        )
    )
    if request.error_contains is not None:
        query["error"] = {"$regex": re.escape(request.error_contains), "$options": "i"}
    return query
