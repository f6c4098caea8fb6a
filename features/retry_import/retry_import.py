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
from shared.problems import Conflict, NotFound, problem_responses
from shared.retry import requeue
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
    outcome = await requeue(services.database, KIND, import_id, services.settings.priority_aging_seconds)
    if outcome.effect == "missing" or outcome.job is None:
        raise NotFound(f"no import with id {import_id}")
    job = outcome.job
    if outcome.effect == "deleting":
        raise Conflict(f"import {import_id} is being deleted by retention", slug="job-being-deleted")
    if outcome.effect != "requeued":
        raise Conflict(
            f"import {import_id} is {job.status.value}; "
            "only a failed, cancelled or partially completed import can be retried",
            slug="job-not-retryable",
        )
    unsent = sum(1 for batch in job.result.get("batches", []) if batch["status"] != "accepted")
    return ImportRetryAccepted(import_id=job.id, status=job.status, retries=len(job.retries), batches_to_send=unsent)
