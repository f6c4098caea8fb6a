"""`GET /health` — is this process able to do its work? (SPEC §3)

200 when the required checks pass (`mongodb`, `fabric_catalog`, `worker`, and `media` when
`MEDIA_ROOTS` is set), 503 naming the failing ones otherwise. `fabric_api` is reported but not
required: exports work without it, and imports retry until it is back. `media` (ffmpeg and ffprobe
on PATH, the encoders the export uses, every root a readable folder) is `unconfigured` without roots.
Every check runs at once under its own timeout, so the answer never takes longer
than `CHECK_TIMEOUT_SECONDS` plus a little, whatever is down. Open without an API key, so load
balancers and orchestrators can call it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo.errors import PyMongoError

from shared.db import Database
from shared.fabric import FabricApi
from shared.job_runner import JobRunner
from shared.media_tools import REQUIRED_ENCODERS, available_encoders, locate
from shared.settings import Settings

CHECK_TIMEOUT_SECONDS = 3.0
REQUIRED = ("mongodb", "fabric_catalog", "worker")


class CheckResult(BaseModel):
    status: Literal["ok", "error", "unconfigured"]
    latency_ms: float | None = None
    error: str | None = None
    details: dict[str, Any] | None = None


class HealthReport(BaseModel):
    status: Literal["ok", "unavailable"]
    failing: list[str]
    checks: dict[str, CheckResult]


router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "a required check failed"}},
    summary="Health of the database, the catalog, Fabric's API and the job runner",
)
async def health(request: Request) -> JSONResponse:
    state = request.app.state
    report = await handle(state.database, state.fabric_api, state.runner, state.settings)
    status_code = 200 if report.status == "ok" else 503
    return JSONResponse(report.model_dump(mode="json", exclude_none=True), status_code=status_code)


async def handle(
    database: Database, fabric_api: FabricApi, runner: JobRunner, settings: Settings | None = None
) -> HealthReport:
    names = ("mongodb", "fabric_catalog", "fabric_api", "worker", "media")
    roots = settings.media_roots if settings is not None else []
    results = await asyncio.gather(
        _timed(lambda: _check_mongodb(database)),
        _timed(lambda: _check_catalog(database)),
        _timed(lambda: _check_fabric_api(fabric_api)),
        _timed(lambda: _check_worker(runner)),
        _timed(lambda: _check_media(roots)),
    )
    checks = dict(zip(names, results, strict=True))
    required = (*REQUIRED, "media") if roots else REQUIRED
    failing = [name for name in required if checks[name].status == "error"]
    return HealthReport(status="unavailable" if failing else "ok", failing=failing, checks=checks)


async def _timed(check: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            return await check()
    except TimeoutError:
        return CheckResult(status="error", error=f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except PyMongoError as error:
        return CheckResult(status="error", error=_short(error))


async def _check_mongodb(database: Database) -> CheckResult:
    latency = await database.ping()
    return CheckResult(status="ok", latency_ms=round(latency, 2))


async def _check_catalog(database: Database) -> CheckResult:
    latency = await database.ping_catalog()
    return CheckResult(status="ok", latency_ms=round(latency, 2))


async def _check_fabric_api(fabric_api: FabricApi) -> CheckResult:
    outcome = await fabric_api.ping(timeout_seconds=CHECK_TIMEOUT_SECONDS - 0.5)
    if outcome in ("ok", "unconfigured"):
        return CheckResult(status=outcome)
    return CheckResult(status="error", error=outcome)


async def _check_worker(runner: JobRunner) -> CheckResult:
    if not runner.polling:
        return CheckResult(status="error", error="the job runner is not polling")
    try:
        details = await runner.stats()
    except PyMongoError:
        # The queue lives in the database, whose own check already says it is down.
        details = {"worker_id": runner.worker_id, "running": runner.running_counts(), "queued": None}
    return CheckResult(status="ok", details=details)


async def _check_media(roots: list[Path]) -> CheckResult:
    """Reported always; required (and `unconfigured` when not) only with MEDIA_ROOTS set."""
    tools = {name: locate(name) for name in ("ffmpeg", "ffprobe")}
    problems = [f"{name} not found on PATH" for name, found in tools.items() if found is None]
    details: dict[str, Any] = {"ffmpeg": tools["ffmpeg"] is not None, "ffprobe": tools["ffprobe"] is not None}
    if tools["ffmpeg"] is not None:
        encoders = await available_encoders(tools["ffmpeg"])
        missing = [name for name in REQUIRED_ENCODERS if name not in encoders]
        problems += [f"ffmpeg has no {name} encoder" for name in missing]
        details["encoders"] = {name: name in encoders for name in REQUIRED_ENCODERS}
    unreadable = await asyncio.to_thread(_unreadable_roots, roots)
    # Root paths are server layout: the check says how many, not which.
    problems += [f"{len(unreadable)} of {len(roots)} MEDIA_ROOTS are not readable folders"] if unreadable else []
    details["roots"] = len(roots)
    if not roots:
        return CheckResult(status="unconfigured", error="; ".join(problems) or None, details=details)
    return CheckResult(status="error" if problems else "ok", error="; ".join(problems) or None, details=details)


def _unreadable_roots(roots: list[Path]) -> list[Path]:
    return [root for root in roots if not (os.path.isdir(root) and os.access(root, os.R_OK | os.X_OK))]


def _short(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:300]
