"""The second baseline of `bench/jobs_bench.py`: the service itself, with BackgroundTasks in place of
the durable job runner.

`bench/baseline_app.py` is a bare FastAPI app: it leaves out durability *and* everything else the
service does per request (the full work-order validation, idempotency keys, the API-key check, the
body limit, request ids, access logs, metrics, the job document the status routes read). This one
keeps all of that: it is `main.create_app` with the runner given no export slots, and `POST /spark`
swapped for a route that submits the job exactly as the slice does (`create_export.handle`) and then
runs the slice's own `process` through `BackgroundTasks`. What it leaves out is only what durability
adds: the claim, the lease and its heartbeat, fenced writes, the run history, the poller. Its final
write matches the job by `_id` alone, and a process that dies loses every job it had queued, as the
seed did. At most `EXPORT_CONCURRENCY` exports run at once per process (a semaphore).

    python -m uvicorn bench.baseline_service:create_app --factory --port 8002
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import BackgroundTasks, FastAPI, Header, Request, Response

from features.create_export import create_export
from features.create_export.work_order import CreateExportRequest
from main import create_app as create_service_app
from shared.jobs import Job, JobStatus, utc_now
from shared.leases import JobRun
from shared.services import Services
from shared.settings import get_settings

log = logging.getLogger("bench.baseline_service")
WORKER_ID = "background-tasks"


class BackgroundRun(JobRun):
    """A run without a lease: its writes match the job by `_id` alone and keep no run history."""

    def _fence(self) -> dict[str, Any]:
        return {"_id": self.job.id}

    def _run_ended(
        self, now: datetime, outcome: str, error: str | None = None, traceback: str | None = None
    ) -> dict[str, Any]:
        return {}


def create_app() -> FastAPI:
    settings = get_settings()
    slots = asyncio.Semaphore(settings.export_concurrency)
    app = create_service_app(settings.model_copy(update={"export_concurrency": 0, "import_concurrency": 0}))

    @app.post("/spark", status_code=202, response_model=create_export.ExportAccepted)
    async def create_export_in_background(
        order: CreateExportRequest,
        request: Request,
        response: Response,
        background: BackgroundTasks,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=255)] = None,
    ) -> create_export.ExportAccepted:
        services: Services = request.app.state.services
        submitted = await create_export.handle(order, idempotency_key, services)
        if submitted.created:
            background.add_task(run_export, services, submitted.job, slots)
        else:
            response.status_code = 200
        response.headers["Location"] = f"/spark/{submitted.job.id}"
        return create_export.accepted(submitted.job)

    # First in line, so it answers `POST /spark` before the slice's own route (left in place).
    app.router.routes.insert(0, app.router.routes.pop())
    return app


async def run_export(services: Services, job: Job, slots: asyncio.Semaphore) -> None:
    """The slice's processor on a lease-less run; `started_at` rides on its final write."""
    async with slots:
        started = utc_now()
        first_run = job.model_copy(update={"runs": [{"worker_id": WORKER_ID, "started_at": started}]})
        run = BackgroundRun(services.database, first_run, "background", WORKER_ID, 0, 0.0, started=started)
        run.carry = {"started_at": started, "worker_id": WORKER_ID}
        try:
            await create_export.process(run, services)
        except Exception as error:  # a background job must still end; the benchmark counts failures
            log.exception("background export failed")
            await run.finish(JobStatus.failed, error=str(error)[:500])
