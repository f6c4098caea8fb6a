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
import json
import logging
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel
from pymongo.errors import PyMongoError

from features.create_export import instructions, package
from features.create_export.media.paths import path_problem
from features.create_export.media.source import MediaContext, MediaUnavailable, Timing, decide_timing, load_media
from features.create_export.media.write import MediaRequest, write_media
from features.create_export.selects import build_select_ranges
from features.create_export.timecode import TimecodeError, parse_frame_rate, rational_label, timecode_to_frame
from features.create_export.timeline import Segment, SelectRange, Timeline, WrittenFile
from features.create_export.work_order import DATA_TYPES, CreateExportRequest, DataTypeOutput, timeline_problem
from features.create_export.writers import SEGMENT_WRITERS, SELECTS_WRITERS
from shared.fabric import CatalogEvent, CatalogWarning, read_catalog
from shared.job_runner import RunnerDep
from shared.jobs import Job, JobStatus, Submitted, submit_job, utc_now
from shared.leases import JobRun
from shared.media_tools import locate
from shared.problems import ProblemError, ValidationProblem, problem_responses
from shared.services import Services, ServicesDep
from shared.settings import Settings, SettingsError

KIND = "export"
MAX_WARNINGS = 200
log = logging.getLogger("ai_spark.export")


# --- problems ------------------------------------------------------------------------------------


class ExportRejected(Exception):
    """The work order cannot be carried out as asked; retrying will not help."""


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


@dataclass
class ExportPlan:
    """What the processor will write, decided from the work order and what the catalog holds."""

    order: CreateExportRequest
    full_path: str
    rate: Fraction
    drop_frame: bool
    start_frame: int
    segments: dict[str, list[Segment]]
    counts: dict[str, int]
    timing: Timing
    media: MediaContext | None = None
    warnings: list[str] = field(default_factory=list)

    def timeline(self, data_type: str) -> Timeline:
        return Timeline(
            rate=self.rate,
            drop_frame=self.drop_frame,
            start_frame=self.start_frame,
            repo_guid=self.order.repo_guid,
            full_path=self.full_path,
            data_type=data_type,
            title=f"{posixpath.basename(self.full_path) or self.full_path} {data_type}",
            media_url=media_url(self.full_path),
            width=self.timing.width,
            height=self.timing.height,
            media_duration=self.timing.media_duration,
            source_start_frame=self.timing.source_start_frame,
        )


async def process(run: JobRun, services: Services) -> None:
    """Build the package of one export job and record its final status (fenced on the run's lease)."""
    order = CreateExportRequest.model_validate(run.job.payload)
    first_run = len(run.job.runs) == 1
    build = await asyncio.to_thread(
        package.prepare, services.settings.export_base_path, run.job_id, run.token, first_run
    )
    published = False
    try:
        await run.progress(2, "reading the catalog")
        plan = await make_plan(order, services)
        errors = await write_package(run, build, plan, services.settings.media_concurrency)
        manifest = manifest_document(run.job, build, plan)
        if errors:
            # Gone before the status says failed: a client that sees `failed` never finds a build folder.
            await asyncio.to_thread(package.discard, build)
            await run.finish(JobStatus.failed, error=_summary(errors), errors=errors, result={"manifest": manifest})
            return
        await run.progress(96, "writing manifest.json and the zip")
        package_info = await asyncio.to_thread(package.seal_and_publish, build, _json_text(manifest))
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
        if not published:
            await asyncio.to_thread(package.discard, build)


async def make_plan(order: CreateExportRequest, services: Services) -> ExportPlan:
    read = await read_catalog(
        services.database.catalog, order.repo_guid, order.inputs.full_path, order.inputs.event_ids
    )
    by_type = group_by_data_type(read.events)
    if not read.events and (order.outputs.requested_types() or order.outputs.selects.enabled):
        scope = f"repo_guid {order.repo_guid!r}, full_path {order.inputs.full_path!r}"
        ids = f", {len(order.inputs.event_ids)} event_ids" if order.inputs.event_ids else ""
        raise ExportRejected(f"the catalog has no events for {scope}{ids}")
    full_path = order.inputs.full_path or single_asset_path(read.events)
    media, media_warnings = await load_media(order.media, full_path, services.settings)
    timing = decide_timing(order.media, media, services.settings.default_frame_rate)
    try:
        start_frame = timecode_to_frame(order.media.start_timecode, timing.rate, timing.drop_frame)
    except TimecodeError as error:
        raise ExportRejected(f"start_timecode at the media's rate {rational_label(timing.rate)}: {error}") from None
    return ExportPlan(
        order=order,
        full_path=full_path,
        rate=timing.rate,
        drop_frame=timing.drop_frame,
        start_frame=start_frame,
        segments={name: merged(segments, order.outputs, name) for name, segments in by_type.items()},
        counts={name: len(segments) for name, segments in by_type.items()},
        timing=timing,
        media=media,
        warnings=[*media_warnings, *timing.warnings, *describe_warnings(read.warnings)],
    )


def group_by_data_type(events: Sequence[CatalogEvent]) -> dict[str, list[Segment]]:
    groups: dict[str, list[Segment]] = {name: [] for name in DATA_TYPES}
    for event in events:
        groups[data_type_of(event.event_type)].append(event)
    return groups


def data_type_of(event_type: str) -> str:
    """SPEC §2.1: transcript; comment and insight → comments; marker → markers; the rest are events."""
    kind = event_type.strip().lower()
    if kind == "transcript":
        return "transcript"
    if kind in ("comment", "insight"):
        return "comments"
    if kind == "marker":
        return "markers"
    return "events"


def merged(segments: list[Segment], outputs: Any, data_type: str) -> list[Segment]:
    """`isSingleSegment`: one segment from the first start to the last end, values joined by a space."""
    output: DataTypeOutput | None = getattr(outputs, data_type)
    if output is None or not output.isSingleSegment or not segments:
        return segments
    values = [segment.value.strip() for segment in segments if segment.value.strip()]
    return [
        Segment(
            id=f"{data_type}-merged",
            event_type=segments[0].event_type if len({s.event_type for s in segments}) == 1 else data_type,
            value=" ".join(values),
            start=min(segment.start for segment in segments),
            end=max(segment.end for segment in segments),
            source="merged",
        )
    ]


def single_asset_path(events: Sequence[CatalogEvent]) -> str:
    """Without `full_path`, the events named by id must all belong to one asset."""
    paths = sorted({event.full_path for event in events if event.full_path})
    if len(paths) > 1:
        shown = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise ExportRejected(f"event_ids span {len(paths)} assets ({shown}); give inputs.full_path to choose one")
    if not paths:
        raise ExportRejected("the events have no fullPath; give inputs.full_path")
    return paths[0]


def media_url(full_path: str) -> str:
    """An absolute `file://` URL for the asset, percent-encoded, as FCPXML and xmeml need."""
    path = full_path if full_path.startswith("/") else "/" + full_path
    return "file://" + quote(path, safe="/")


def describe_warnings(warnings: Sequence[CatalogWarning]) -> list[str]:
    described = [f"event {warning.event_id}: {warning.message}" for warning in warnings[:MAX_WARNINGS]]
    if len(warnings) > MAX_WARNINGS:
        described.append(f"... and {len(warnings) - MAX_WARNINGS} more repaired or skipped events")
    return described


# --- writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One file (or set of EDL parts) to write."""

    artifact_type: str
    fmt: str
    relative: str


def planned_steps(plan: ExportPlan) -> list[Step]:
    steps = []
    for data_type, output in plan.order.outputs.requested_types().items():
        for fmt in output.formats:
            extension = SEGMENT_WRITERS[fmt].extension
            steps.append(Step(data_type, fmt, f"{data_type}/sdna_ai_spark_{data_type}.{extension}"))
    selects = plan.order.outputs.selects
    if selects.enabled:
        for fmt in selects.formats:
            steps.append(Step("selects", fmt, f"selects/sdna_ai_spark_selects.{SELECTS_WRITERS[fmt].extension}"))
    return steps


async def write_package(
    run: JobRun, build: package.PackageBuild, plan: ExportPlan, media_concurrency: int = 1
) -> list[dict[str, Any]]:
    """Write every planned file; an artifact that fails is recorded and the others still written."""
    steps = planned_steps(plan)
    ranges = select_ranges(plan) if plan.order.outputs.selects.enabled else []
    plan.counts["selects"] = len(ranges)
    plan.counts["subclips"] = 0
    errors: list[dict[str, Any]] = []
    # With media to cut, the timelines take the first part of the bar and ffmpeg the rest.
    share = 85 if plan.media is None or not plan.order.media.needs_media else 25
    for index, step in enumerate(steps):
        await run.progress(5 + share * index / max(len(steps), 1), f"writing {step.artifact_type}.{step.fmt}")
        try:
            written = await asyncio.to_thread(write_step, build, plan, step, ranges)
        except Exception as error:  # one artifact failing must not hide the others: recorded, job fails
            log.warning("artifact failed", extra={"spark_id": run.job_id, "artifact": step.relative}, exc_info=error)
            errors.append({"artifact": step.relative, "code": "write_failed", "message": _error_text(error)})
            continue
        note_skipped(plan, step, written)
    if plan.media is not None and plan.order.media.needs_media:
        errors += await write_package_media(run, build, plan, media_concurrency)
    if not wants_llm_files(plan.order):
        return errors
    await run.progress(92, "writing the LLM files")
    try:
        await asyncio.to_thread(write_llm_files, build, plan, run.job)
    except OSError as error:
        errors.append(
            {"artifact": instructions.INSTRUCTIONS_NAME, "code": "write_failed", "message": _error_text(error)}
        )
    return errors


async def write_package_media(
    run: JobRun, build: package.PackageBuild, plan: ExportPlan, concurrency: int
) -> list[dict[str, Any]]:
    assert plan.media is not None
    request = MediaRequest(plan.order.media, plan.full_path, plan.segments, concurrency)
    errors, warnings, written = await write_media(build, plan.media, request, run.progress, (30, 90))
    plan.warnings.extend(warnings)
    plan.counts["subclips"] = written
    return errors


def write_step(
    build: package.PackageBuild, plan: ExportPlan, step: Step, ranges: list[SelectRange]
) -> list[WrittenFile]:
    target = build.path_for(step.relative)
    target.parent.mkdir(exist_ok=True)
    if step.artifact_type == "selects":
        written = SELECTS_WRITERS[step.fmt].write(target, ranges, plan.timeline("selects"))
    else:
        written = SEGMENT_WRITERS[step.fmt].write(
            target, plan.segments[step.artifact_type], plan.timeline(step.artifact_type)
        )
    for file in written:
        build.record(step.artifact_type, step.fmt, file.path, file.items, file.segments)
    return written


def note_skipped(plan: ExportPlan, step: Step, written: list[WrittenFile]) -> None:
    skipped = sum(file.skipped for file in written)
    if skipped:
        plan.warnings.append(f"{step.relative}: {skipped} segments with no text to show were left out")
    if len(written) > 1:
        plan.warnings.append(f"{step.relative}: more than 999 events, split into {len(written)} files")


def select_ranges(plan: ExportPlan) -> list[SelectRange]:
    selects = plan.order.outputs.selects
    chosen = [segment for name in selects.source for segment in plan.segments.get(name, [])]
    return build_select_ranges(chosen, selects.handle_seconds, media_duration=plan.timing.media_duration)


def wants_llm_files(order: CreateExportRequest) -> bool:
    has_grounding = order.outputs.grounding.enabled and bool(order.user_inputs.prompt)
    return has_grounding or order.user_inputs.llm_instructions


def write_llm_files(build: package.PackageBuild, plan: ExportPlan, job: Job) -> None:
    order = plan.order
    has_grounding = order.outputs.grounding.enabled and bool(order.user_inputs.prompt)
    if has_grounding:
        path = package.write_text(
            build, instructions.GROUNDING_NAME, instructions.grounding_text(order.user_inputs.prompt or "")
        )
        build.record("grounding", "txt", path, 1)
    if order.user_inputs.llm_instructions:
        text = instructions.render_instructions(
            spark_id=job.id,
            repo_guid=order.repo_guid,
            full_path=plan.full_path,
            frame_rate=rational_label(plan.rate),
            drop_frame=plan.drop_frame,
            start_timecode=order.media.start_timecode,
            created_at=_iso(job.created_at),
            artifacts=list(build.artifacts),
            has_grounding=has_grounding,
            segment_id=next((s.id for name in DATA_TYPES for s in plan.segments.get(name, [])), None),
        )
        path = package.write_text(build, instructions.INSTRUCTIONS_NAME, text)
        build.record("llm_instructions", "md", path, 1)


def manifest_document(job: Job, build: package.PackageBuild, plan: ExportPlan) -> dict[str, Any]:
    return {
        "spark_id": job.id,
        "spark_version": plan.order.spark_version,
        "repo_guid": plan.order.repo_guid,
        "full_path": plan.full_path,
        "created_at": _iso(job.created_at),
        "completed_at": _iso(utc_now()),
        "frame_rate": rational_label(plan.rate),
        "drop_frame": plan.drop_frame,
        "start_timecode": plan.order.media.start_timecode,
        "counts": {name: plan.counts.get(name, 0) for name in (*DATA_TYPES, "selects", "subclips")},
        "media": media_manifest(plan),
        "artifacts": [artifact.as_manifest_entry() for artifact in build.artifacts],
        "warnings": plan.warnings,
    }


def media_manifest(plan: ExportPlan) -> dict[str, Any] | None:
    """The probe of the asset (and of a given proxy), named by the paths the work order gave."""
    if plan.media is None:
        return None
    document = {"full_path": plan.media.asset.shown, **plan.media.asset.info.as_manifest()}
    if plan.media.proxy is not None:
        document["proxy"] = {"proxy_path": plan.media.proxy.shown, **plan.media.proxy.info.as_manifest()}
    return document


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_text(error: BaseException) -> str:
    return (str(error) or type(error).__name__)[:500]


def _summary(errors: list[dict[str, Any]]) -> str:
    names = ", ".join(str(error["artifact"]) for error in errors[:5])
    return f"{len(errors)} artifact{'s' if len(errors) != 1 else ''} could not be written: {names}"
