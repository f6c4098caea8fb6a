"""AI Spark: the app factory and the entry point.

`create_app()` wires settings, JSON logs, problem+json errors, the lifespan (database, Fabric client,
job runner, replica heartbeat) and an explicit tuple of feature routers. `python main.py` checks the settings first,
so a bad variable stops start-up with one line naming it instead of a traceback, then serves with
uvicorn on `HOST`:`PORT` with `WORKERS` processes.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI

from features.cancel_export import cancel_export
from features.console import console, viewer
from features.create_export import create_export
from features.create_import import create_import
from features.download_artifact import download_artifact
from features.download_package import download_package
from features.get_export import get_export
from features.get_export_status import get_export_status
from features.get_import import get_import
from features.get_import_status import get_import_status
from features.health import health
from features.job_stats import job_stats
from features.list_exports import list_exports
from features.list_imports import list_imports
from features.list_jobs import list_jobs
from features.list_replicas import list_replicas
from features.metrics import metrics
from features.retention import retention
from features.retry_export import retry_export
from features.retry_import import retry_import
from features.retry_jobs import retry_jobs
from features.update_export_priority import update_export_priority
from features.update_import_priority import update_import_priority
from shared.auth import ApiKeyMiddleware, document_api_keys
from shared.db import connect, ensure_indexes_when_reachable
from shared.fabric import FabricApi
from shared.fabric_rate import FabricGate
from shared.job_runner import JobKind, JobRunner
from shared.jobs import INDEXES
from shared.limits import BodySizeLimitMiddleware
from shared.logging import RequestContextMiddleware, configure_logging
from shared.metrics import HttpMetricsMiddleware, Metrics
from shared.periodic import PeriodicScheduler, PeriodicTask
from shared.problems import document_problems, install_problem_handlers
from shared.replicas import ReplicaHeartbeat, runner_slots
from shared.services import Services
from shared.settings import Settings, SettingsError, get_settings

log = logging.getLogger("ai_spark")

# Import routes come first: `/spark/import...` must never be read as `/spark/{spark_id}` (the id
# routes only match UUIDs anyway).
FEATURE_ROUTERS = (
    health.router,
    metrics.router,
    create_import.router,
    list_imports.router,
    get_import.router,
    get_import_status.router,
    update_import_priority.router,
    create_export.router,
    list_exports.router,
    get_export.router,
    get_export_status.router,
    cancel_export.router,
    update_export_priority.router,
    download_artifact.router,
    download_package.router,
    retry_export.router,
    retry_import.router,
    retry_jobs.router,
    job_stats.router,
    list_jobs.router,
    list_replicas.router,
    console.router,
    viewer.router,
)


def job_kinds(services: Services) -> list[JobKind]:
    """The background work this process runs, each kind with its own concurrency limit."""
    return [
        JobKind(
            kind=create_export.KIND,
            concurrency=services.settings.export_concurrency,
            process=partial(create_export.process, services=services),
            is_transient=create_export.is_transient,
            repo_concurrency=services.settings.repo_export_concurrency,
        ),
        JobKind(
            kind=create_import.KIND,
            concurrency=services.settings.import_concurrency,
            process=partial(create_import.process, services=services),
            is_transient=create_import.is_transient,
            repo_concurrency=services.settings.repo_import_concurrency,
        ),
    ]


def periodic_tasks(services: Services) -> list[PeriodicTask]:
    """The periodic work, each period run once across all replicas (`shared.periodic`)."""
    return [task for task in (retention.task(services),) if task is not None]


def check_settings(settings: Settings) -> Settings:
    """The settings checks that need a feature's knowledge (a frame rate it can time, say)."""
    create_export.check_settings(settings)
    return settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = check_settings(settings or get_settings())
    configure_logging(settings.log_level)
    app = FastAPI(
        title="AI Spark",
        version="1.0.0",
        summary="Exports Fabric's time-coded metadata as spark packages and imports LLM highlights back.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    # Tests add periodic tasks of their own here (factories taking the `Services`); nothing else can.
    app.state.extra_periodic_tasks = []
    install_problem_handlers(app)
    document_problems(app)
    # Added innermost first: request id and access log wrap everything, then metrics, then the key
    # check, then the body limit closest to the routes.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(ApiKeyMiddleware, keys=settings.api_keys, read_keys=settings.api_read_keys)
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)
    for router in FEATURE_ROUTERS:
        app.include_router(router)
    if settings.api_keys or settings.api_read_keys:
        document_api_keys(app)
    return app


GIL_SWITCH_SECONDS = 0.001


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # Export writers run in threads and hold the GIL; a request waits for it at each of its steps,
    # up to the switch interval each time (5 ms by default: /status p99 over 200 ms while an export
    # wrote, issue 14). 1 ms makes the loop's turn come five times sooner for a few µs per switch.
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
    metrics = app.state.metrics
    database = connect(settings)
    fabric_api = FabricApi(
        settings, metrics=metrics, gate=FabricGate(database, settings.fabric_max_requests_per_second)
    )
    services = Services(settings=settings, database=database, fabric_api=fabric_api, metrics=metrics)
    runner = JobRunner(database, settings, job_kinds(services), metrics=metrics)
    periodic = [*periodic_tasks(services), *(make(services) for make in app.state.extra_periodic_tasks)]
    scheduler = PeriodicScheduler(
        database, periodic, runner.worker_id, settings.lease_seconds, settings.job_timeout_seconds
    )
    heartbeat = ReplicaHeartbeat(database, runner.worker_id, app.version, runner_slots(runner), settings.lease_seconds)
    app.state.services, app.state.runner, app.state.scheduler = services, runner, scheduler
    app.state.heartbeat = heartbeat
    app.state.database, app.state.fabric_api = database, fabric_api
    indexes = asyncio.create_task(ensure_indexes_when_reachable(database, INDEXES))
    try:
        await warm_routes(app)
        runner.start()
        scheduler.start()
        heartbeat.start()
        yield
    finally:
        await stop_within("the periodic scheduler", scheduler.shutdown(), SHUTDOWN_STEP_SECONDS)
        await stop_within("the job runner", runner.shutdown(), settings.shutdown_grace_seconds + SHUTDOWN_STEP_SECONDS)
        # Last: the replica shows its slots emptying while it drains.
        await stop_within("the replica heartbeat", heartbeat.stop(), SHUTDOWN_STEP_SECONDS)
        indexes.cancel()
        await stop_within("the index creation", asyncio.gather(indexes, return_exceptions=True), SHUTDOWN_STEP_SECONDS)
        await stop_within("the Fabric API client", fabric_api.aclose(), SHUTDOWN_STEP_SECONDS)
        await stop_within("the database client", database.close(), SHUTDOWN_STEP_SECONDS)


WARM_UP_PATH = "/.ai-spark-warm-up"


async def warm_routes(app: FastAPI) -> int:
    """Walk one request through every route before serving (issue 14): FastAPI builds each included
    router's route state on the first request that reaches it, ~100 ms of the event loop, which a
    new replica's first `/status` answer waited for. The request matches no route and goes to the
    router only (no middleware, nothing logged); its answer's status (404: past every route) is
    returned. Without an `app` in the scope Starlette answers that 404 itself instead of raising it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": WARM_UP_PATH,
        "raw_path": WARM_UP_PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": None,
        "server": None,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app.router(scope, receive, send)
    return statuses[0]


# A shutdown step that takes longer than this (beyond the runner's grace period) is left behind: a
# stop that never ends would keep the process from exiting, and its port and data from the next one.
SHUTDOWN_STEP_SECONDS = 10.0


async def stop_within(what: str, stopping: Awaitable[Any], seconds: float) -> None:
    """Await one step of the shutdown for at most `seconds`, then go on without it, saying so.

    Not `asyncio.wait_for`: it waits for the step to take its cancellation, and a step stuck on
    something that swallows it (a driver call turning a cancel into an error it retries) would hold
    the shutdown forever all the same."""
    step = asyncio.ensure_future(stopping)
    done, _ = await asyncio.wait({step}, timeout=seconds)
    if step in done:
        step.result()  # its error, if any, is the shutdown's as before
        return
    where = io.StringIO()
    step.print_stack(file=where)
    step.cancel()
    log.error(
        "shutdown: %s did not stop within %.0f s; going on without it", what, seconds, extra={"stack": where.getvalue()}
    )


def serve() -> None:
    """Check the settings, then serve with uvicorn (the `make run` and container entry point)."""
    try:
        settings = check_settings(get_settings())
    except SettingsError as error:
        print(f"ai-spark: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    import uvicorn

    configure_logging(settings.log_level)
    uvicorn.run(
        "main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    serve()
