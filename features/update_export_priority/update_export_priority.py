"""`PATCH /spark/{spark_id}` — change a pending export's priority (`{"priority": "high"}`).

200 with the job's id, status and new priority. The job keeps the time it has waited: its place in
the queue is reckoned from its creation with the new level (`shared/priority.py`), and raising it
tells every replica at once. 409 once the job has left `pending` (running or finished); 404 for an
unknown or malformed id; 422 for a priority that is not `low`, `normal` or `high`, or any other field.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from shared.jobs import JobStatus
from shared.priority import Priority
from shared.problems import problem_responses
from shared.queue_control import change_priority
from shared.services import Services, ServicesDep


class UpdateExportPriorityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"priority": "high"}]})

    priority: Priority


class ExportPriorityChanged(BaseModel):
    spark_id: str
    status: JobStatus
    priority: Priority


router = APIRouter(tags=["exports"])


@router.patch(
    "/spark/{spark_id:uuid}",
    response_model=ExportPriorityChanged,
    responses=problem_responses(401, 404, 409, 422),
    summary="Change the priority of a pending export job",
)
async def update_export_priority(
    spark_id: uuid.UUID, change: UpdateExportPriorityRequest, services: ServicesDep
) -> ExportPriorityChanged:
    return await handle(services, str(spark_id), change)


async def handle(services: Services, spark_id: str, change: UpdateExportPriorityRequest) -> ExportPriorityChanged:
    aging = services.settings.priority_aging_seconds
    job = await change_priority(services.database, "export", spark_id, change.priority, aging, "export")
    return ExportPriorityChanged(spark_id=job.id, status=job.status, priority=job.priority)
