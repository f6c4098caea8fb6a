"""The media part of a package: the proxy and the subclips, cut by ffmpeg into the build folder.

Called by the export processor after the timelines. Progress goes to the job (`progress`, which
also raises `JobCancelled` on a cancel request, stopping ffmpeg through the runner). An ffmpeg failure
is one artifact error naming the file; a missing tool fails the job the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from features.create_export.media.ffmpeg import MediaToolError, run_ffmpeg
from features.create_export.media.proxy import copy_given_proxy, given_proxy_name, proxy_arguments, proxy_name
from features.create_export.media.source import MediaContext, source_timecode
from features.create_export.media.subclips import SubclipCut, cut_arguments, keyframe_frames, plan_cuts
from features.create_export.package import PackageBuild
from features.create_export.timeline import Segment
from features.create_export.work_order import MediaOptions

Progress = Callable[[float, str], Awaitable[None]]


@dataclass
class MediaRequest:
    options: MediaOptions
    full_path: str
    segments: Mapping[str, Sequence[Segment]]
    concurrency: int


async def write_media(
    build: PackageBuild, media: MediaContext, request: MediaRequest, progress: Progress, share: tuple[float, float]
) -> tuple[list[dict[str, Any]], list[str], int]:
    """Proxy and subclips; returns (artifact errors, warnings, subclips written)."""
    errors: list[dict[str, Any]] = []
    low, high = share
    options = request.options
    if options.proxy_path is not None or options.include_full_proxy:
        await progress(low, "writing the proxy")
        errors += await _proxy(
            build, media, request, progress, (low, (low + high) / 2 if options.subclips.enabled else high)
        )
        low = (low + high) / 2
    if not options.subclips.enabled:
        return errors, [], 0
    await progress(low, "planning the subclips")
    try:
        keyframes = None if options.subclips.accurate else await keyframe_frames(media.cut_from)
    except MediaToolError as error:
        return [*errors, _error("media/subclips", error)], [], 0
    cuts, warnings = plan_cuts(
        request.segments, list(options.subclips.source), options.subclips.handle_seconds, media, keyframes
    )
    written, cut_errors = await _subclips(build, media, cuts, request, progress, (low, high))
    return errors + cut_errors, warnings, written


async def _proxy(
    build: PackageBuild, media: MediaContext, request: MediaRequest, progress: Progress, share: tuple[float, float]
) -> list[dict[str, Any]]:
    options = request.options
    if options.proxy_path is not None and media.proxy is not None:
        relative = given_proxy_name(media.proxy.shown)
        target = build.path_for(relative)
        try:
            await asyncio.to_thread(copy_given_proxy, media.proxy.path, target)
        except OSError as error:
            return [
                {"artifact": relative, "code": "write_failed", "message": f"cannot copy the proxy: {error.strerror}"}
            ]
        await asyncio.to_thread(
            _record, build, "proxy", target, relative, _proxy_fields(media, media.proxy.info.duration)
        )
        return []
    relative = proxy_name(request.full_path)
    target = build.path_for(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    low, high = share

    async def report(fraction: float) -> None:
        await progress(low + (high - low) * fraction, "writing the proxy")

    try:
        await run_ffmpeg(
            proxy_arguments(media),
            target,
            expected_seconds=float(media.asset.info.duration),
            concurrency=request.concurrency,
            on_progress=report,
        )
    except MediaToolError as error:
        return [_error(relative, error, media)]
    await asyncio.to_thread(_record, build, "proxy", target, relative, _proxy_fields(media, media.asset.info.duration))
    return []


async def _subclips(
    build: PackageBuild,
    media: MediaContext,
    cuts: list[SubclipCut],
    request: MediaRequest,
    progress: Progress,
    share: tuple[float, float],
) -> tuple[int, list[dict[str, Any]]]:
    if not cuts:
        return 0, []
    build.path_for("media/subclips").mkdir(parents=True, exist_ok=True)
    rate = media.cut_from.info.rate or Fraction(25)
    done: dict[int, float] = {}
    low, high = share
    accurate = request.options.subclips.accurate

    async def cut_one(cut: SubclipCut) -> dict[str, Any] | None:
        """None once the clip is cut, else the artifact error."""

        async def report(fraction: float) -> None:
            done[cut.index] = fraction
            await progress(low + (high - low) * sum(done.values()) / len(cuts), f"cutting subclip {cut.index}")

        target = build.path_for(cut.relative)
        try:
            await run_ffmpeg(
                cut_arguments(cut, media, accurate),
                target,
                expected_seconds=float(Fraction(cut.frames) / rate),
                concurrency=request.concurrency,
                on_progress=report,
            )
        except MediaToolError as error:
            return _error(cut.relative, error, media)
        done[cut.index] = 1.0
        return None

    results = await _all_or_nothing([cut_one(cut) for cut in cuts])
    # Recorded in cut order once all are done, whatever order ffmpeg finished them in.
    for cut, error in zip(cuts, results, strict=True):
        if error is None:
            target = build.path_for(cut.relative)
            await asyncio.to_thread(_record, build, "subclip", target, cut.relative, _subclip_fields(media, cut, rate))
    errors = [error for error in results if error is not None]
    return len(cuts) - len(errors), errors


async def _all_or_nothing(coroutines: list[Any]) -> list[Any]:
    """Run them together (ffmpeg's slots bound how many cut at once); the first exception (a cancel
    request, say) or a cancellation of this task stops every other one, their ffmpeg included, and
    is raised as itself, never wrapped in a group, so the job runner still recognises it."""
    tasks = [asyncio.create_task(coroutine) for coroutine in coroutines]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        failed = next((task for task in tasks if task.done() and task.exception() is not None), None)
        if failed is not None:
            raise failed.exception()  # type: ignore[misc]
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _record(build: PackageBuild, artifact_type: str, target: Any, relative: str, fields: dict[str, Any]) -> None:
    artifact = build.record(artifact_type, relative.rsplit(".", 1)[-1], target, 1)
    artifact.extra.update(fields)


def _proxy_fields(media: MediaContext, duration: Fraction) -> dict[str, Any]:
    return {"source_in": source_timecode(media, 0), "duration": round(float(duration), 6)}


def _subclip_fields(media: MediaContext, cut: SubclipCut, rate: Fraction) -> dict[str, Any]:
    return {
        "data_type": cut.data_type,
        "source_in": source_timecode(media, cut.first_frame),
        "source_out": source_timecode(media, cut.out),
        "requested_in": source_timecode(media, cut.requested_in),
        "first_frame": cut.first_frame,
        "frames": cut.frames,
        "duration": round(float(Fraction(cut.frames) / rate), 6),
    }


def _error(relative: str, error: Exception, media: MediaContext | None = None) -> dict[str, Any]:
    message = str(error)
    if media is not None:
        for file in (media.asset, media.proxy):
            if file is not None:
                message = message.replace(str(file.path), file.shown)
    return {"artifact": relative, "code": "media_failed", "message": message[:1000]}
