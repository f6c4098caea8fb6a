"""`GET /spark/{spark_id}/artifacts/{path}` — one file of a completed package, streamed.

200 with the file and its content type; 404 for an unknown job, a job that has not completed, or a
path that does not name a file inside the package. Paths are resolved inside the package folder
only: `..` (however encoded), absolute paths, NUL bytes and symlinks that lead out of the folder all
get 404, never a file from elsewhere.
"""

from __future__ import annotations

import mimetypes
import uuid
from pathlib import Path, PurePosixPath

from fastapi import APIRouter
from fastapi.responses import FileResponse

from shared.db import DatabaseDep
from shared.jobs import JobStatus, load_job
from shared.problems import NotFound, problem_responses
from shared.services import ServicesDep

CONTENT_TYPES = {
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".srt": "application/x-subrip; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".edl": "text/plain; charset=us-ascii",
    ".fcpxml": "application/xml",
    ".xml": "application/xml",
    ".otio": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".zip": "application/zip",
}
# Every file is declared as bytes under its real content type, so a generated client hands it back as
# a file instead of trying to parse it. `application/octet-stream` (the type of an unknown extension)
# comes first: generators that read one content type per response take the first. JSON files are any
# JSON document (a validator parses them, and bytes would not match).
BINARY = {"schema": {"type": "string", "format": "binary"}}
ANY_JSON = {"schema": {"description": "the file's own JSON document (segments, or an OpenTimelineIO timeline)"}}
ARTIFACT_MEDIA_TYPES: dict[str, dict] = {
    "application/octet-stream": BINARY,
    **{
        media_type.split(";")[0]: ANY_JSON if media_type == "application/json" else BINARY
        for media_type in sorted(set(CONTENT_TYPES.values()))
    },
}

router = APIRouter(tags=["exports"])


@router.get(
    "/spark/{spark_id:uuid}/artifacts/{path:path}",
    response_class=FileResponse,
    responses={
        200: {"description": "the file, with the content type of its format", "content": ARTIFACT_MEDIA_TYPES},
        **problem_responses(401, 404),
    },
    summary="Download one file of a completed spark package",
)
async def download_artifact(spark_id: uuid.UUID, path: str, database: DatabaseDep, services: ServicesDep):
    return await handle(database, services.settings.export_base_path, str(spark_id), path)


async def handle(database, export_base_path: Path, spark_id: str, path: str) -> FileResponse:
    job = await load_job(database, "export", spark_id)
    if job is None or job.status != JobStatus.completed:
        raise NotFound(f"export {spark_id} has no completed package")
    target = resolve_inside(export_base_path / spark_id, path)
    if target is None:
        raise NotFound(f"the package of {spark_id} has no file {path!r}")
    return FileResponse(
        target, media_type=content_type(target), filename=target.name, content_disposition_type="inline"
    )


def resolve_inside(folder: Path, requested: str) -> Path | None:
    """The file `requested` names inside `folder`, or None if it would lead anywhere else."""
    if not requested or "\x00" in requested or "\\" in requested:
        return None
    relative = PurePosixPath(requested)
    if relative.is_absolute() or any(part in ("..", ".") for part in relative.parts):
        return None
    root = folder.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
