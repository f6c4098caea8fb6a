"""`POST /spark/{spark_id}/cancel` — stop an export.

202 with the job's status: a `pending` job is `cancelled` at once; a `processing` one is flagged and
its processor stops at its next step, removes its build folder and ends `cancelled`. 409 when the job
has already finished; 404 for an unknown or malformed id.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel

from shared.db import Database, DatabaseDep
from shared.jobs import JobStatus, request_cancel
from shared.problems import Conflict, NotFound, problem_responses


class CancelAccepted(BaseModel):
    spark_id: str
    status: JobStatus
    cancel_requested: bool


router = APIRouter(tags=["exports"])


@router.post(
    "/spark/{spark_id:uuid}/cancel",
    status_code=202,
    response_model=CancelAccepted,
    responses=problem_responses(401, 404, 409),
    summary="Cancel an export job",
)
async def cancel_export(spark_id: uuid.UUID, database: DatabaseDep) -> CancelAccepted:
    return await handle(database, str(spark_id))


async def handle(database: Database, spark_id: str) -> CancelAccepted:
    outcome = await request_cancel(database, "export", spark_id)
    if outcome is None:
        raise NotFound(f"no export with id {spark_id}")
    if outcome.effect == "finished":
        raise Conflict(f"export {spark_id} has already finished ({outcome.job.status.value})", slug="job-finished")
    job = outcome.job
    return CancelAccepted(spark_id=job.id, status=job.status, cancel_requested=job.cancel_requested)
