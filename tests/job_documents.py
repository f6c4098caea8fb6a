"""Job documents stored straight into the jobs collection, for the tests of lists and counts that need
many jobs in given states (running real exports to get them would take minutes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.jobs import Job, jobs, new_job_id, utc_now

FINISHED = {"completed", "partially_completed", "failed", "cancelled"}


def job_document(
    kind: str = "export",
    repo_guid: str = "repo-a",
    status: str = "pending",
    created_at: datetime | None = None,
    name: str | None = None,
    error: str | None = None,
    priority: str = "normal",
    worker_id: str | None = None,
    completed_at: datetime | None = None,
) -> dict[str, Any]:
    created = created_at or utc_now()
    job_id = new_job_id()
    path = name or f"/{repo_guid}/clip.mov"
    payload = (
        {"asset": {"repo_guid": repo_guid, "fullPath": path}}
        if kind == "import"
        else {"repo_guid": repo_guid, "inputs": {"full_path": path}}
    )
    finished = status in FINISHED
    job = Job(
        id=job_id,
        kind=kind,
        repo_guid=repo_guid,
        status=status,
        created_at=created,
        updated_at=created,
        started_at=created if status != "pending" else None,
        completed_at=(completed_at or created + timedelta(seconds=1)) if finished else None,
        not_before=created,
        priority=priority,
        queue_key=created,
        worker_id=worker_id,
        error=error,
        idempotency_key=f"{kind}:id:{job_id}",
        request_hash="0" * 64,
        payload=payload,
    )
    return job.model_dump_doc()


async def store_jobs(database, documents: list[dict[str, Any]]) -> list[str]:
    await jobs(database).insert_many(documents)
    return [document["_id"] for document in documents]
