"""The baseline of `bench/api_bench.py`: a bare FastAPI app doing one database call per request.

Not part of the service. Same database client settings as the service (majority writes, the same
server), no validation beyond parsing, no logging, no auth, no problem documents:

    POST /spark                   one insert_one of a job-sized document
    GET  /spark/{id}/status       one find_one by _id
    GET  /spark?repo_guid=        one find_one by repository

    python -m uvicorn bench.api_baseline:create_app --factory --port 8001
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pymongo import AsyncMongoClient


def create_app() -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = AsyncMongoClient(os.environ["MONGODB_URL"], w="majority", tz_aware=True)
        app.state.jobs = client[os.environ["MONGODB_DB_NAME"]]["jobs"]
        yield
        await client.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/spark", status_code=202)
    async def create(request: Request) -> dict[str, Any]:
        order = await request.json()
        job_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        await request.app.state.jobs.insert_one(
            {
                "_id": job_id,
                "kind": "export",
                "repo_guid": order.get("repo_guid"),
                "status": "pending",
                "created_at": now,
                "payload": order,
            }
        )
        return {"spark_id": job_id, "status": "pending"}

    @app.get("/spark/{spark_id}/status")
    async def status(spark_id: str, request: Request) -> dict[str, Any]:
        job = await request.app.state.jobs.find_one({"_id": spark_id})
        if job is None:
            raise HTTPException(404)
        return {"spark_id": job["_id"], "status": job["status"], "created_at": job["created_at"]}

    @app.get("/spark")
    async def listing(repo_guid: str, request: Request) -> dict[str, Any]:
        job = await request.app.state.jobs.find_one({"kind": "export", "repo_guid": repo_guid})
        return {"jobs": [] if job is None else [{"spark_id": job["_id"], "status": job["status"]}]}

    return app
