"""`PATCH /spark/import/{import_id}` — change a pending import's priority (`{"priority": "high"}`).

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


class UpdateImportPriorityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"priority": "high"}]})

    priority: Priority


class ImportPriorityChanged(BaseModel):
    import_id: str
    status: JobStatus
    priority: Priority


router = APIRouter(tags=["imports"])


@router.patch(
    "/spark/import/{import_id:uuid}",
    response_model=ImportPriorityChanged,
    responses=problem_responses(401, 404, 409, 422),
    summary="Change the priority of a pending import job",
)
async def update_import_priority(
    import_id: uuid.UUID, change: UpdateImportPriorityRequest, services: ServicesDep
) -> ImportPriorityChanged:
    return await handle(services, str(import_id), change)


async def handle(services: Services, import_id: str, change: UpdateImportPriorityRequest) -> ImportPriorityChanged:
    aging = services.settings.priority_aging_seconds
    job = await change_priority(services.database, "import", import_id, change.priority, aging, "import")
    return ImportPriorityChanged(import_id=job.id, status=job.status, priority=job.priority)
