"""`POST /spark/import` and `POST /spark/import/file` — accept LLM highlights and push them to Fabric.

Both answer 202 with `Location: /spark/import/{import_id}` once the job and its highlights are stored
(200 with the same job for a replayed `Idempotency-Key`, 409 for that key with another body). A
document that breaks SPEC §6 gets one 422 listing every violation with its JSON pointer, and nothing
is stored. The file endpoint takes the same document as a UTF-8 JSON file in the multipart field
`file`; a file that is not UTF-8 or not JSON is a 422 that says which, and a body over
`MAX_REQUEST_BYTES` a 413.

The processor sends the highlights in batches of `FABRIC_IMPORT_BATCH_SIZE`, each with its own state
(`pending`, `sending`, `accepted`, `failed`), attempts, HTTP status and error. Transient failures
(408, 429, 5xx, timeouts, refused connections) are retried with backoff, honouring `Retry-After`; a
permanent 4xx fails that batch and the others go on. An accepted batch is never sent again. A batch
found `sending` when a run starts was in flight when its worker died: it is sent again with the same
`Idempotency-Key` and marked `resent`. The job ends `completed`, `partially_completed` or `failed`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Header, Response, UploadFile
from pydantic import BaseModel, ValidationError
from pymongo.errors import PyMongoError

from features.create_import.import_document import CreateImportRequest
from shared.fabric import (
    FabricPermanentError,
    FabricTransientError,
    batches,
    insight_body,
)
from shared.job_runner import RunnerDep
from shared.jobs import Job, JobStatus, Submitted, new_job_id, submit_job
from shared.leases import JobRun
from shared.problems import ProblemError, ValidationProblem, problem_responses, validation_errors
from shared.services import Services, ServicesDep

KIND = "import"
BATCHES_COLLECTION = "import_batches"
RETRY_AFTER_CAP_SECONDS = 60.0
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
log = logging.getLogger("ai_spark.import")


# --- response models -----------------------------------------------------------------------------


class ImportLinks(BaseModel):
    job: str
    status: str


class ImportAccepted(BaseModel):
    import_id: str
    status: JobStatus
    items_total: int
    batches: int
    links: ImportLinks


# --- routes --------------------------------------------------------------------------------------

router = APIRouter(tags=["imports"])
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ImportAccepted, "description": "replay of an earlier Idempotency-Key"},
    **problem_responses(401, 409, 413, 422),
}
IdempotencyKey = Annotated[str | None, Header(min_length=1, max_length=255)]


@router.post(
    "/spark/import",
    status_code=202,
    response_model=ImportAccepted,
    responses=RESPONSES,
    summary="Accept LLM highlights (JSON body) and push them to Fabric in the background",
)
async def create_import(
    document: CreateImportRequest,
    response: Response,
    services: ServicesDep,
    runner: RunnerDep,
    idempotency_key: IdempotencyKey = None,
) -> ImportAccepted:
    submitted = await runner.submit(KIND, lambda claimed: handle(document, idempotency_key, services, claimed))
    return _answer(submitted, response)


@router.post(
    "/spark/import/file",
    status_code=202,
    response_model=ImportAccepted,
    responses=RESPONSES,
    summary="Accept LLM highlights uploaded as a UTF-8 JSON file (multipart field `file`)",
)
async def create_import_file(
    file: Annotated[UploadFile, File(description="the import document of SPEC §6 as a UTF-8 JSON file")],
    response: Response,
    services: ServicesDep,
    runner: RunnerDep,
    idempotency_key: IdempotencyKey = None,
) -> ImportAccepted:
    # Decoding and validating up to MAX_REQUEST_BYTES of JSON is CPU work: off the event loop.
    document = await asyncio.to_thread(parse_upload, await file.read())
    submitted = await runner.submit(KIND, lambda claimed: handle(document, idempotency_key, services, claimed))
    return _answer(submitted, response)


def _answer(submitted: Submitted, response: Response) -> ImportAccepted:
    if not submitted.created:
        response.status_code = 200
    job = submitted.job
    response.headers["Location"] = f"/spark/import/{job.id}"
    return ImportAccepted(
        import_id=job.id,
        status=job.status,
        items_total=job.result["items_total"],
        batches=len(job.result["batches"]),
        links=ImportLinks(job=f"/spark/import/{job.id}", status=f"/spark/import/{job.id}/status"),
    )


# --- rules ---------------------------------------------------------------------------------------


def parse_upload(raw: bytes) -> CreateImportRequest:
    """The uploaded file as an import document, or a 422 saying why it is not one."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"
        raise ValidationProblem([ProblemError(pointer="/file", message=message)]) from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as error:
        raise ValidationProblem([ProblemError(pointer="/file", message=f"the file is not JSON: {error}")]) from None
    try:
        return CreateImportRequest.model_validate(value)
    except ValidationError as error:
        raise ValidationProblem(validation_errors(error.errors())) from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


async def handle(
    document: CreateImportRequest,
    idempotency_key: str | None,
    services: Services,
    claimed: Mapping[str, Any] | None = None,
) -> Submitted:
    """Store the highlights in batches, then the job (or find the replayed job): `pending`, or already
    claimed when the runner gives the fields of its claim (`JobRunner.submit`)."""
    settings = services.settings
    import_id = new_job_id()
    events = [highlight.as_insight_event() for highlight in document.highlights]
    chunks = batches(events, settings.fabric_import_batch_size)
    await _store_batches(services, import_id, chunks)
    submitted = await submit_job(
        services.database,
        KIND,
        document.asset.repo_guid,
        payload=document.model_dump(mode="json", exclude={"highlights"}),
        idempotency_key=idempotency_key,
        result=initial_result(len(events), [len(chunk) for chunk in chunks]),
        as_sent=document.model_dump(mode="json", exclude_unset=True),
        job_id=import_id,
        claimed=claimed,
        priority=document.priority,
        aging_seconds=services.settings.priority_aging_seconds,
    )
    if not submitted.created:
        await _drop_batches(services, import_id, len(chunks))
        return submitted
    await asyncio.to_thread(keep_a_copy, settings.import_base_path, import_id, document)
    log.info("import accepted", extra={"import_id": import_id, "items": len(events), "batches": len(chunks)})
    return submitted


def initial_result(items_total: int, sizes: list[int]) -> dict[str, Any]:
    return {
        "items_total": items_total,
        "items_created": 0,
        "items_failed": 0,
        "batches": [
            {
                "index": index,
                "items": size,
                "status": "pending",
                "attempts": 0,
                "http_status": None,
                "error": None,
                "resent": False,
            }
            for index, size in enumerate(sizes)
        ],
    }


async def _store_batches(services: Services, import_id: str, chunks: list[Any]) -> None:
    # Stored before the job itself: a job is never claimable without its highlights.
    documents = [
        {"_id": batch_key(import_id, index), "import_id": import_id, "index": index, "events": list(chunk)}
        for index, chunk in enumerate(chunks)
    ]
    await services.database.collection(BATCHES_COLLECTION).insert_many(documents, ordered=True)


async def _drop_batches(services: Services, import_id: str, count: int) -> None:
    collection = services.database.collection(BATCHES_COLLECTION)
    for index in range(count):
        await collection.delete_one({"_id": batch_key(import_id, index)})


def batch_key(import_id: str, index: int) -> str:
    """A batch's document id, and the `Idempotency-Key` it is pushed with (SPEC §2.2)."""
    return f"{import_id}:{index}"


def keep_a_copy(folder: Path, import_id: str, document: CreateImportRequest) -> None:
    """The document as accepted, in `IMPORT_BASE_PATH`, for whoever needs to see what the LLM sent.

    Not needed to process the import (the highlights are in the database), so a folder that cannot be
    written is logged, not fatal.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{import_id}.json"
        target.write_text(document.model_dump_json(indent=2, exclude_unset=True), encoding="utf-8")
    except OSError as error:
        log.warning("cannot keep a copy of the import document", extra={"import_id": import_id, "error": str(error)})


def is_transient(error: BaseException) -> bool:
    return isinstance(error, FabricTransientError | PyMongoError)


# --- processor -----------------------------------------------------------------------------------


class BatchesUnsent(FabricTransientError):
    """Some batches exhausted their retries on transient errors; the job may try again later."""


async def process(run: JobRun, services: Services) -> None:
    """Send every batch not yet accepted or failed, then record the job's final status."""
    job = run.job
    states: list[dict[str, Any]] = job.result["batches"]
    unsent: list[FabricTransientError] = []
    for state in states:
        if is_settled(state, job):
            continue
        done = sum(1 for s in states if is_settled(s, job))
        await run.progress(100 * done / len(states), f"sending batch {state['index'] + 1} of {len(states)}")
        error = await send_batch(run, services, job, state)
        if error is not None:
            unsent.append(error)
    if unsent and run.attempt < services.settings.max_attempts:
        raise BatchesUnsent(f"{len(unsent)} batch(es) not accepted yet; last error: {unsent[-1].message}")
    for state in states:
        if not is_settled(state, job):
            await _set_batch(run, state, status="failed", failed_in_retry=len(job.retries))
    await finish(run, states)


def is_settled(state: dict[str, Any], job: Job) -> bool:
    """Accepted, or failed in this round of attempts. A batch that failed before the job's last
    manual retry (`retries`) is sent again: that is what the retry is for."""
    if state["status"] == "accepted":
        return True
    return state["status"] == "failed" and state.get("failed_in_retry", 0) == len(job.retries)


async def send_batch(run: JobRun, services: Services, job: Job, state: dict[str, Any]) -> FabricTransientError | None:
    """Push one batch with retries; None once it is accepted or permanently failed."""
    if state["status"] == "sending":
        # The run before this one died with this batch on the wire: Fabric may have it already.
        state["resent"] = True
        log.warning("re-sending a batch that was in flight", extra={"import_id": job.id, "batch": state["index"]})
    events = await _batch_events(services, job.id, state["index"])
    body = insight_body(
        job.payload["asset"]["repo_guid"], job.payload["asset"]["fullPath"], events, job.payload.get("tag")
    )
    retries = services.settings.fabric_max_retries
    last_error: FabricTransientError | None = None
    for retry in range(retries + 1):
        await _set_batch(run, state, status="sending", attempts=state["attempts"] + 1)
        try:
            accepted = await services.fabric_api.push_insights(body, batch_key(job.id, state["index"]))
        except FabricPermanentError as error:
            await _set_batch(
                run,
                state,
                status="failed",
                http_status=error.status,
                error=error.message,
                failed_in_retry=len(job.retries),
            )
            return None
        except FabricTransientError as error:
            last_error = error
            await _set_batch(run, state, status="pending", http_status=error.status, error=error.message)
            if retry < retries:
                await asyncio.sleep(retry_delay(retry, error.retry_after))
            continue
        await _set_batch(run, state, status="accepted", http_status=accepted.status, error=None)
        return None
    return last_error


def retry_delay(retry: int, retry_after: float | None) -> float:
    """`Retry-After` when Fabric gives one (capped at a minute), else 0.5, 1, 2 … s with jitter."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_SECONDS)
    return min(BACKOFF_BASE_SECONDS * 2**retry, BACKOFF_CAP_SECONDS) * random.uniform(0.75, 1.25)


async def _batch_events(services: Services, import_id: str, index: int) -> list[dict[str, Any]]:
    document = await services.database.collection(BATCHES_COLLECTION).find_one({"_id": batch_key(import_id, index)})
    if document is None:
        raise FabricPermanentError(f"the highlights of batch {index} are missing from the database")
    return document["events"]


async def _set_batch(run: JobRun, state: dict[str, Any], **changes: Any) -> None:
    """Change a batch's state in memory and in the job, fenced on this run's lease."""
    state.update(changes)
    fields = {f"result.batches.{state['index']}.{key}": value for key, value in state.items() if key != "index"}
    await run.write({"$set": fields})


async def finish(run: JobRun, states: list[dict[str, Any]]) -> None:
    created = sum(state["items"] for state in states if state["status"] == "accepted")
    failed = sum(state["items"] for state in states if state["status"] == "failed")
    total = created + failed
    if created == total:
        status = JobStatus.completed
    elif created > 0:
        status = JobStatus.partially_completed
    else:
        status = JobStatus.failed
    failures = [state for state in states if state["status"] == "failed"]
    error = None
    if failures:
        error = f"{len(failures)} of {len(states)} batches failed; first: {failures[0]['error']}"
    await run.finish(status, error=error, result={"items_created": created, "items_failed": failed})
    log.info(
        "import ended",
        extra={"import_id": run.job_id, "status": status.value, "items_created": created, "items_failed": failed},
    )
