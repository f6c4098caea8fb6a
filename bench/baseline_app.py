"""The baseline of `bench/jobs_bench.py`: the same tiny exports through plain FastAPI BackgroundTasks.

Not part of the service, and durable in no way: `POST /spark` stores a job document (`insert_one`)
and schedules the work with `BackgroundTasks` — no claims, leases, heartbeats, fences, progress
writes or retries, so a process that dies loses every job it had queued. The work itself is the
service's for a one-file export: the scoped catalog read with the same repairs
(`shared.fabric.read_catalog`), the same JSON file written by the service's own writer in a thread,
the same package around it (`manifest.json`, the zip, the rename into place, with the slice's own
`package` module), and one `update_one` by `_id` to `completed`. What is left to compare is the cost
of durability: the claim, the lease, the fenced writes, the run record. At most
`EXPORT_CONCURRENCY` exports run at once per process (an `asyncio.Semaphore`), as in the service, so
the comparison is fair.

It reads the service's variables (`MONGODB_URL`, `MONGODB_DB_NAME`, `FABRIC_CATALOG_DB`,
`EXPORT_BASE_PATH`, `EXPORT_CONCURRENCY`) and uses the service's database client (majority writes).

    python -m uvicorn bench.baseline_app:create_app --factory --port 8001
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from features.create_export import package
from features.create_export.plan import data_type_of
from features.create_export.timeline import Segment, Timeline, WrittenFile
from features.create_export.writers.json import write_segments
from shared.db import Database, connect
from shared.fabric import read_catalog
from shared.jobs import utc_now
from shared.settings import Settings, load_settings

log = logging.getLogger("bench.baseline")


DATA_TYPES = ("transcript", "events", "comments", "markers")


class BaselineOrder(BaseModel):
    """The part of the service's work order a one-file export uses; the rest is accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    repo_guid: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    media: dict[str, Any] = {}
    user_inputs: dict[str, Any] = {}


class BaselineState:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.jobs = database.collection("jobs")
        self.slots = asyncio.Semaphore(settings.export_concurrency)


def create_app() -> FastAPI:
    app = FastAPI(title="jobs_bench baseline", lifespan=lifespan)

    @app.get("/health")
    async def health(request: Request) -> dict[str, str]:
        await request.app.state.baseline.database.ping()
        return {"status": "ok"}

    @app.post("/spark", status_code=202)
    async def create_export(order: BaselineOrder, request: Request, background: BackgroundTasks) -> JSONResponse:
        state: BaselineState = request.app.state.baseline
        job_id = str(uuid.uuid4())
        now = utc_now()
        await state.jobs.insert_one(
            {
                "_id": job_id,
                "kind": "export",
                "repo_guid": order.repo_guid,
                "status": "pending",
                "created_at": now,
                "updated_at": now,
                "idempotency_key": f"export:id:{job_id}",
                "payload": order.model_dump(mode="json"),
            }
        )
        background.add_task(process, state, job_id, order)
        return JSONResponse(
            {"spark_id": job_id, "status": "pending", "links": {"job": f"/spark/{job_id}"}},
            status_code=202,
            headers={"Location": f"/spark/{job_id}"},
        )

    return app


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = load_settings()
    database = connect(settings)
    app.state.baseline = BaselineState(settings, database)
    try:
        yield
    finally:
        await database.close()


async def process(state: BaselineState, job_id: str, order: BaselineOrder) -> None:
    """Read the asset's events, write one JSON file per requested data type, mark the job completed."""
    async with state.slots:
        started = utc_now()
        try:
            full_path = order.inputs["full_path"]
            read = await read_catalog(state.database.catalog, order.repo_guid, full_path)
            rate = Fraction(order.media.get("frame_rate") or state.settings.default_frame_rate)
            written: list[WrittenFile] = []
            build: package.PackageBuild | None = None
            for data_type in DATA_TYPES:
                output = order.outputs.get(data_type)
                if not isinstance(output, dict) or "json" not in output.get("formats", []):
                    continue
                segments = [event for event in read.events if data_type_of(event.event_type) == data_type]
                timeline = Timeline(
                    rate=rate,
                    drop_frame=bool(order.media.get("drop_frame")),
                    start_frame=0,
                    repo_guid=order.repo_guid,
                    full_path=full_path,
                    data_type=data_type,
                    title=f"{posixpath.basename(full_path)} {data_type}",
                    media_url="file://" + quote(full_path, safe="/"),
                )
                build = build or await asyncio.to_thread(
                    package.prepare, Path(state.settings.export_base_path), job_id, "baseline", True
                )
                written += await asyncio.to_thread(write_file, build, data_type, segments, timeline)
            # The same package as the service's: manifest.json, the zip, the rename into place.
            manifest = {"spark_id": job_id, "artifacts": [a.as_manifest_entry() for a in build.artifacts]}
            info = await asyncio.to_thread(package.seal_and_publish, build, json.dumps(manifest, indent=2))
        except Exception as error:  # a baseline job must still end; the benchmark counts failures
            log.exception("baseline job failed")
            await finish(state, job_id, "failed", started, {"error": str(error)[:500]})
            return
        files = [{"path": str(file.path), "items": file.items} for file in written]
        await finish(state, job_id, "completed", started, {"result": {"files": files, "package": info}})


def write_file(build: package.PackageBuild, data_type: str, segments: list[Segment], timeline: Timeline):
    target = build.path_for(f"{data_type}/sdna_ai_spark_{data_type}.json")
    target.parent.mkdir(exist_ok=True)
    written = write_segments(target, segments, timeline)
    for file in written:
        build.record(data_type, "json", file.path, file.items)
    return written


async def finish(state: BaselineState, job_id: str, status: str, started: datetime, fields: dict[str, Any]) -> None:
    now = utc_now()
    await state.jobs.update_one(
        {"_id": job_id},
        {"$set": {"status": status, "started_at": started, "completed_at": now, "updated_at": now, **fields}},
    )
