"""Writing the planned package: every requested format of every data type, the selects, the media,
the LLM files, and the manifest, each file recorded in the build with its size and hash."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from features.create_export import instructions, package, package_files
from features.create_export.media.write import MediaRequest, write_media
from features.create_export.plan import ExportPlan
from features.create_export.selects import build_select_ranges
from features.create_export.timecode import rational_label
from features.create_export.timeline import SelectRange, WrittenFile
from features.create_export.work_order import DATA_TYPES, CreateExportRequest
from features.create_export.writers import SEGMENT_WRITERS, SELECTS_WRITERS
from shared import heap
from shared.jobs import Job, utc_now
from shared.leases import JobRun

log = logging.getLogger("ai_spark.export")


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
    # The selects' ranges are worked out when the first selects file is due, not before the first
    # file (issue 14: ~0.2 s of exact arithmetic for 7,000 segments that every file waited for).
    ranges: list[SelectRange] | None = None
    plan.counts["subclips"] = 0
    errors: list[dict[str, Any]] = []
    # With media to cut, the timelines take the first part of the bar and ffmpeg the rest.
    share = 85 if plan.media is None or not plan.order.media.needs_media else 25
    for index, step in enumerate(steps):
        # The first file is written promptly: it is where the catalog read is seen to end.
        percent = 5 + share * index / max(len(steps), 1)
        await run.progress(percent, f"writing {step.artifact_type}.{step.fmt}", promptly=index == 0)
        if step.artifact_type == "selects" and ranges is None:
            ranges = await asyncio.to_thread(select_ranges, plan)
        try:
            written = await in_writer_thread(write_step, build, plan, step, ranges or [])
        except Exception as error:  # one artifact failing must not hide the others: recorded, job fails
            log.warning("artifact failed", extra={"spark_id": run.job_id, "artifact": step.relative}, exc_info=error)
            errors.append({"artifact": step.relative, "code": "write_failed", "message": _error_text(error)})
            continue
        finally:
            heap.settle()  # a step's layouts and text columns stay in the shared tables
        note_skipped(plan, step, written)
    if ranges is None and plan.order.outputs.selects.enabled:  # enabled without a file to write
        ranges = await asyncio.to_thread(select_ranges, plan)
    plan.counts["selects"] = len(ranges or [])
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


def _lower_priority() -> None:
    # Linux's niceness is per thread (elsewhere this does nothing): on a busy machine the OS runs the
    # event loop's thread, woken to answer a request, before a writer that wants the core too.
    with contextlib.suppress(AttributeError, OSError):
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(nice + WRITER_NICENESS, 19))


T = TypeVar("T")
WRITER_NICENESS = 5
# The files' writers: threads of their own at a lower OS priority than the event loop (issue 14:
# `/status` answered fast throughout). One per export writing at a time; they stay for the next.
WRITER_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="export-writer", initializer=_lower_priority)


async def in_writer_thread(function: Callable[..., T], *args: Any) -> T:
    """`asyncio.to_thread` on a writer thread (the caller's context variables go with it)."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(WRITER_THREADS, partial(context.run, function, *args))


def write_step(
    build: package.PackageBuild, plan: ExportPlan, step: Step, ranges: list[SelectRange]
) -> list[WrittenFile]:
    target = build.path_for(step.relative)
    target.parent.mkdir(exist_ok=True)
    with package_files.streaming(build):  # each file into the folder, its digest and the zip at once
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
            created_at=iso(job.created_at),
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
        "created_at": iso(job.created_at),
        "completed_at": iso(utc_now()),
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


def json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_text(error: BaseException) -> str:
    return (str(error) or type(error).__name__)[:500]
