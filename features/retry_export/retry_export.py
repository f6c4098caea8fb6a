"""`POST /spark/{spark_id}/retry` — run a failed or cancelled export again.

202 with the job back in `pending` as a new round of attempts (a fresh `MAX_ATTEMPTS` budget): its
earlier runs stay in `runs`, and the retry is recorded in `retries`. The new run rebuilds the package
from scratch, like any re-run. 409 when the job is not `failed` or `cancelled` (pending, running,
completed, or being deleted by retention); 404 for an unknown or malformed id.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from shared.job_runner import RunnerDep
from shared.jobs import JobStatus
from shared.problems import problem_responses
from shared.retry import requeue_or_problem
from shared.services import Services, ServicesDep

KIND = "export"


class ExportRetryAccepted(BaseModel):
    spark_id: str
    status: JobStatus
    retries: int


router = APIRouter(tags=["exports"])


@router.post(
    "/spark/{spark_id:uuid}/retry",
    status_code=202,
    response_model=ExportRetryAccepted,
    responses=problem_responses(401, 404, 409),
    summary="Run a failed or cancelled export again, keeping its history",
)
async def retry_export(spark_id: uuid.UUID, services: ServicesDep, runner: RunnerDep) -> ExportRetryAccepted:
    accepted = await handle(services, str(spark_id))
    runner.nudge(KIND, accepted.spark_id)  # this process claims it at once if it has a free slot
    return accepted


async def handle(services: Services, spark_id: str) -> ExportRetryAccepted:
    aging = services.settings.priority_aging_seconds
    job = await requeue_or_problem(services.database, KIND, spark_id, aging, "export", "failed or cancelled")
    return ExportRetryAccepted(spark_id=job.id, status=job.status, retries=len(job.retries))
