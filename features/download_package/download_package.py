"""`GET /spark/{spark_id}/package` — the whole spark package as one zip, streamed.

200 with `Content-Disposition: attachment; filename="<spark_id>.zip"`; 404 for an unknown job or one
that has not completed. The zip holds every file of the package by its relative path.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shared.db import DatabaseDep
from shared.jobs import JobStatus, load_job
from shared.problems import NotFound, problem_responses
from shared.services import ServicesDep

router = APIRouter(tags=["exports"])


@router.get(
    "/spark/{spark_id:uuid}/package",
    response_class=FileResponse,
    responses={
        200: {
            "description": "the zip",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 404),
    },
    summary="Download the spark package as a zip",
)
async def download_package(spark_id: uuid.UUID, database: DatabaseDep, services: ServicesDep):
    return await handle(database, services.settings.export_base_path, str(spark_id))


async def handle(database, export_base_path: Path, spark_id: str) -> FileResponse:
    job = await load_job(database, "export", spark_id)
    if job is None or job.status != JobStatus.completed:
        raise NotFound(f"export {spark_id} has no completed package")
    archive = export_base_path / spark_id / f"{spark_id}.zip"
    if not archive.is_file():
        raise NotFound(f"the package of {spark_id} is no longer on disk")
    return FileResponse(archive, media_type="application/zip", filename=archive.name)
