"""`POST /spark` — accept an export work order and build its spark package in the background.

Answers 202 with `Location: /spark/{spark_id}` once the job is stored: `pending`, or `processing` when
this process had a free slot and the insert claimed it (200 with the same job for a replayed
`Idempotency-Key`; 409 for that key with another body; 422 listing every problem of the work order
with its JSON pointer).

The processor reads the asset's events from the Fabric catalog (always scoped to the repository),
repairs or skips bad documents into manifest warnings, and writes every requested format for every
requested data type, the selects, the grounding prompt, the LLM instructions, `manifest.json` and the
zip, in a private build folder that is renamed into `EXPORT_BASE_PATH/<spark_id>` only when complete.
The job ends `completed` with the manifest, or `failed` with `errors [{artifact, code, message}]` and
a manifest of what was written (the partial package itself is not published). A catalog that cannot
be reached is a transient error: the runner retries the job, which rebuilds from scratch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel
from pymongo.errors import PyMongoError

from features.create_export import package
from features.create_export.media.paths import path_problem
from features.create_export.media.source import MediaUnavailable
from features.create_export.plan import ExportPlan, ExportRejected, let_go, make_plan
from features.create_export.timecode import TimecodeError, parse_frame_rate
from features.create_export.work_order import CreateExportRequest, timeline_problem
from features.create_export.writing import json_text, manifest_document, write_package
from shared import heap
from shared.job_runner import RunnerDep
from shared.jobs import Job, JobStatus, Submitted, submit_job
from shared.leases import JobRun
from shared.media_tools import locate
from shared.problems import ProblemError, ValidationProblem, problem_responses
from shared.services import Services, ServicesDep
from shared.settings import Settings, SettingsError

KIND = "export"
MAX_WARNINGS = 200
log = logging.getLogger("ai_spark.export")


# --- problems ------------------------------------------------------------------------------------


# --- response models -----------------------------------------------------------------------------


class ExportLinks(BaseModel):
    job: str
    status: str
    package: str


class ExportAccepted(BaseModel):
    spark_id: str
    status: JobStatus
    links: ExportLinks


# --- route ---------------------------------------------------------------------------------------

router = APIRouter(tags=["exports"])


@router.post(
    "/spark",
    status_code=202,
    response_model=ExportAccepted,
    responses={
        200: {"model": ExportAccepted, "description": "replay of an earlier Idempotency-Key"},
        **problem_responses(401, 409, 413, 422),
    },
    summary="Accept an export work order and build its spark package in the background",
)
async def create_export(
    order: CreateExportRequest,
    response: Response,
    services: ServicesDep,
    runner: RunnerDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
) -> ExportAccepted:
    submitted = await runner.submit(KIND, lambda claimed: handle(order, idempotency_key, services, claimed))
    if not submitted.created:
        response.status_code = 200
    response.headers["Location"] = f"/spark/{submitted.job.id}"
    return accepted(submitted.job)


def accepted(job: Job) -> ExportAccepted:
    base = f"/spark/{job.id}"
    return ExportAccepted(
        spark_id=job.id,
        status=job.status,
        links=ExportLinks(job=base, status=f"{base}/status", package=f"{base}/package"),
    )


# --- rules ---------------------------------------------------------------------------------------


async def handle(
    order: CreateExportRequest,
    idempotency_key: str | None,
    services: Services,
    claimed: Mapping[str, Any] | None = None,
) -> Submitted:
    """Check what needs the settings, then store the job (or find the replayed one): `pending`, or
    already claimed when the runner gives the fields of its claim (`JobRunner.submit`)."""
    check_against_settings(order, services.settings)
    return await submit_job(
        services.database,
        KIND,
        order.repo_guid,
        payload=order.model_dump(mode="json"),
        idempotency_key=idempotency_key,
        as_sent=order.model_dump(mode="json", exclude_unset=True),
        claimed=claimed,
        priority=order.priority,
        aging_seconds=services.settings.priority_aging_seconds,
    )


def check_against_settings(order: CreateExportRequest, settings: Settings) -> None:
    problems = [
        problem
        for problem in (_media_problem(order, settings), _default_rate_problem(order, settings))
        if problem is not None
    ]
    problems += _media_path_problems(order)
    if problems:
        raise ValidationProblem(problems)


def _media_problem(order: CreateExportRequest, settings: Settings) -> ProblemError | None:
    if not order.media.needs_media:
        return None
    if not settings.media_features_enabled:
        return ProblemError(pointer=_media_pointer(order), message="media features are off (MEDIA_ROOTS is empty)")
    missing = [name for name in ("ffmpeg", "ffprobe") if locate(name) is None]
    if missing:
        message = f"media features need {' and '.join(missing)}, which this server does not have"
        return ProblemError(pointer=_media_pointer(order), message=message)
    return None


def _media_path_problems(order: CreateExportRequest) -> list[ProblemError]:
    """Paths that could never be read (`..`, `-name`, `concat:`/`http:` ...): known before any file look."""
    problems = []
    full_path = order.inputs.full_path if order.media.needs_media else None
    if full_path is not None and (reason := path_problem(full_path)) is not None:
        problems.append(ProblemError(pointer="/inputs/full_path", message=f"the media path {reason}"))
    if order.media.proxy_path is not None and (reason := path_problem(order.media.proxy_path)) is not None:
        problems.append(ProblemError(pointer="/media/proxy_path", message=f"the proxy path {reason}"))
    return problems


def _default_rate_problem(order: CreateExportRequest, settings: Settings) -> ProblemError | None:
    """With `frame_rate: null` the start timecode must fit DEFAULT_FRAME_RATE instead (unless the rate
    will be probed from media under MEDIA_ROOTS: then the job checks it against the probed rate)."""
    if order.media.frame_rate is not None or settings.media_features_enabled:
        return None
    problem = timeline_problem(
        parse_frame_rate(settings.default_frame_rate), order.media.drop_frame, order.media.start_timecode
    )
    if problem is None:
        return None
    field_name, message = problem
    rate = settings.default_frame_rate
    return ProblemError(
        pointer=f"/media/{field_name}", message=f"{message} (frame_rate is null: DEFAULT_FRAME_RATE {rate} applies)"
    )


def check_settings(settings: Settings) -> None:
    """Start-up check of the settings this slice reads: a rate it cannot time is a bad DEFAULT_FRAME_RATE."""
    try:
        parse_frame_rate(settings.default_frame_rate)
    except TimecodeError as error:
        raise SettingsError(f"invalid settings: DEFAULT_FRAME_RATE: {error}") from None


def _media_pointer(order: CreateExportRequest) -> str:
    if order.media.subclips.enabled:
        return "/media/subclips/enabled"
    if order.media.include_full_proxy:
        return "/media/include_full_proxy"
    return "/media/proxy_path"


def is_transient(error: BaseException) -> bool:
    """A catalog that cannot be reached may come back; everything else fails the job at once."""
    return isinstance(error, PyMongoError)


# --- processor -----------------------------------------------------------------------------------


async def process(run: JobRun, services: Services) -> None:
    """Build the package of one export job and record its final status (fenced on the run's lease)."""
    order = CreateExportRequest.model_validate(run.job.payload)
    first_run = len(run.job.runs) == 1
    build = await asyncio.to_thread(
        package.prepare, services.settings.export_base_path, run.job_id, run.token, first_run
    )
    published = False
    plan: ExportPlan | None = None
    # A long step (the catalog read, a big file, the zip) must not leave `progress` still (issue 14).
    moving = asyncio.create_task(run.keep_moving())
    try:
        await run.progress(2, "reading the catalog")

        async def documents_read(count: int) -> None:
            heap.settle()  # each batch's events are kept for the whole export
            await run.progress(2, f"reading the catalog: {count:,} documents")

        plan = await make_plan(order, services, documents_read)
        heap.settle()
        errors = await write_package(run, build, plan, services.settings.media_concurrency)
        manifest = manifest_document(run.job, build, plan)
        if errors:
            # Gone before the status says failed: a client that sees `failed` never finds a build folder.
            await asyncio.to_thread(package.discard, build)
            await run.finish(JobStatus.failed, error=_summary(errors), errors=errors, result={"manifest": manifest})
            return
        await run.stop_if_cancelled()  # a cancel asked for while the last steps ran wins over sealing
        await run.progress(96, "writing manifest.json and the zip")
        package_info = await asyncio.to_thread(package.seal_and_publish, build, json_text(manifest))
        published = True
        result = {"manifest": manifest, "package": package_info, "media": manifest["media"]}
        await run.finish(JobStatus.completed, result=result)
        log.info("export completed", extra={"spark_id": run.job_id, "artifacts": len(build.artifacts)})
    except (ExportRejected, MediaUnavailable, package.PackageError) as error:
        await asyncio.to_thread(package.discard, build)
        await run.finish(
            JobStatus.failed, error=str(error), errors=[{"artifact": None, "code": "rejected", "message": str(error)}]
        )
    finally:
        moving.cancel()
        # Awaited, so it never outlives the processor and an error of its own is not left unread.
        await asyncio.gather(moving, return_exceptions=True)
        if not published:
            await asyncio.to_thread(package.discard, build)
        if plan is not None:
            await asyncio.to_thread(let_go, plan)  # freed in pieces, off the loop
        del plan  # and gone before the collector is given the frozen heap back
        heap.release()


def _summary(errors: list[dict[str, Any]]) -> str:
    names = ", ".join(str(error["artifact"]) for error in errors[:5])
    return f"{len(errors)} artifact{'s' if len(errors) != 1 else ''} could not be written: {names}"
