"""`POST /spark/import/{import_id}/retry` — run a failed, cancelled or partially completed import again.

202 with the job back in `pending` as a new round of attempts (a fresh `MAX_ATTEMPTS` budget): its
earlier runs stay in `runs`, and the retry is recorded in `retries`. The new run sends only the
batches Fabric has not accepted: those that failed, and those never sent (a cancelled import); an
accepted batch is never sent again. A `partially_completed` import can be retried too (SPEC §3 names
failed and cancelled; an import with accepted and failed batches is the case this route exists for,
see docs/decisions.md). 409 for a pending, running or completed import, or one being deleted by
retention; 404 for an unknown or malformed id.
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

KIND = "import"


class ImportRetryAccepted(BaseModel):
    import_id: str
    status: JobStatus
    retries: int
    batches_to_send: int


router = APIRouter(tags=["imports"])


@router.post(
    "/spark/import/{import_id:uuid}/retry",
    status_code=202,
    response_model=ImportRetryAccepted,
    responses=problem_responses(401, 404, 409),
    summary="Run a failed, cancelled or partially completed import again: only unaccepted batches are sent",
)
async def retry_import(import_id: uuid.UUID, services: ServicesDep, runner: RunnerDep) -> ImportRetryAccepted:
    accepted = await handle(services, str(import_id))
    runner.nudge(KIND, accepted.import_id)  # this process claims it at once if it has a free slot
    return accepted


async def handle(services: Services, import_id: str) -> ImportRetryAccepted:
    aging = services.settings.priority_aging_seconds
    retryable = "failed, cancelled or partially completed"
    job = await requeue_or_problem(services.database, KIND, import_id, aging, "import", retryable)
    unsent = sum(1 for batch in job.result.get("batches", []) if batch["status"] != "accepted")
    return ImportRetryAccepted(import_id=job.id, status=job.status, retries=len(job.retries), batches_to_send=unsent)
