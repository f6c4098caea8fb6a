"""Retention — the first periodic task (SPEC §7): old finished jobs go, with everything they left on disk.

Registered in `main.py` beside the job kinds and run by `shared.periodic` once per
`RETENTION_INTERVAL_SECONDS` across all replicas (off when `RETENTION_DAYS=0`). A run deletes, in
batches of `RETENTION_BATCH_SIZE`:

- jobs finished (`completed`, `partially_completed`, `cancelled`) more than `RETENTION_DAYS` ago, and
  `failed` ones more than `FAILED_RETENTION_DAYS` ago (0 keeps failed jobs forever), with the export's
  package folder (and build leftovers), the import's batches and its copy in `IMPORT_BASE_PATH`;
- folders in `EXPORT_BASE_PATH` and copies in `IMPORT_BASE_PATH` whose job no longer exists.

A pending or running job is never touched: every step is conditional on the job being finished.
Order, so a failure halfway leaves the job and its package consistent: the job is marked `deleting`
(a retry is refused from then on), the package folder is renamed out of the served place in one
step, the files are removed, then the batches, and the job document last. When the rename fails
nothing has changed: the mark is lifted and the next run tries again. When a later file step fails,
the job stays (marked) and the next run finishes it. Counts go to the log and, summed in the task's
document, to `/metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from shared.jobs import JobStatus, is_job_id, jobs, utc_now
from shared.periodic import PeriodicRun, PeriodicTask
from shared.services import Services
from shared.settings import Settings

TASK = "retention"
# The import slice's highlights, one document per batch (`create_import.BATCHES_COLLECTION`).
BATCHES_COLLECTION = "import_batches"
TRASH_SUFFIX = "retention"
log = logging.getLogger("ai_spark.retention")


class PackageKept(OSError):
    """The package could not be moved out of its place: nothing was changed."""


def task(services: Services) -> PeriodicTask | None:
    """The retention task, or None when `RETENTION_DAYS=0` turns retention off."""
    settings = services.settings
    if settings.retention_days == 0:
        return None
    return PeriodicTask(TASK, settings.retention_interval_seconds, partial(process, services=services))


async def process(run: PeriodicRun, services: Services) -> dict[str, int]:
    """One sweep: expired jobs kind by kind and status by status, then the orphans on disk."""
    counts: Counter[str] = Counter()
    now = utc_now()
    for kind in ("export", "import"):
        for status, days in limits(services.settings):
            await sweep(services, kind, status, now - timedelta(days=days), counts)
    await remove_orphans(services, counts)
    log.info("retention swept", extra={"task": TASK, "period": run.period.isoformat(), **counts})
    return dict(counts)


def limits(settings: Settings) -> list[tuple[JobStatus, int]]:
    kept = settings.retention_days
    found = [(JobStatus.completed, kept), (JobStatus.partially_completed, kept), (JobStatus.cancelled, kept)]
    if settings.failed_retention_days > 0:
        found.append((JobStatus.failed, settings.failed_retention_days))
    return found


async def sweep(services: Services, kind: str, status: JobStatus, cutoff: datetime, counts: Counter[str]) -> None:
    """Every job of `kind` finished with `status` before `cutoff`, a batch at a time (by `_id`, so a
    job that could not be deleted is passed over instead of found again)."""
    batch = services.settings.retention_batch_size
    # The `{kind, status}` prefix of the `claim_queue` index narrows the scan on MongoDB; `not_before`
    # never comes after `completed_at`, so its condition only drops what could not match anyway.
    expired = {"kind": kind, "status": status, "not_before": {"$lt": cutoff}, "completed_at": {"$lt": cutoff}}
    last_id: str | None = None
    while True:
        query = expired if last_id is None else {**expired, "_id": {"$gt": last_id}}
        cursor = jobs(services.database).find(query, projection={"_id": 1}).sort("_id", 1).limit(batch)
        found = [document["_id"] for document in await cursor.to_list(length=batch)]
        for job_id in found:
            await delete_job(services, kind, job_id, expired, counts)
        if len(found) < batch:
            return
        last_id = found[-1]


async def delete_job(services: Services, kind: str, job_id: str, expired: dict[str, Any], counts: Counter[str]) -> None:
    collection = jobs(services.database)
    marked = await collection.find_one_and_update({"_id": job_id, **expired}, {"$set": {"deleting": True}})
    if marked is None:
        return  # retried or changed since the look
    settings = services.settings
    try:
        if kind == "export":
            removed = await asyncio.to_thread(remove_package, settings.export_base_path, job_id)
            counts["packages_deleted"] += removed
        else:
            removed = await asyncio.to_thread(remove_import_copy, settings.import_base_path, job_id)
            counts["import_copies_deleted"] += removed
    except OSError as error:
        counts["failures"] += 1
        log.warning("retention could not remove a job's files", extra={"job_id": job_id, "error": str(error)})
        if isinstance(error, PackageKept) or kind != "export":
            await collection.update_one({"_id": job_id, "deleting": True}, {"$unset": {"deleting": ""}})
        return
    if kind == "import":
        deleted = await services.database.collection(BATCHES_COLLECTION).delete_many({"import_id": job_id})
        counts["import_batches_deleted"] += deleted.deleted_count
    outcome = await collection.delete_one({"_id": job_id, "deleting": True})
    counts["jobs_deleted"] += outcome.deleted_count


def remove_package(base: Path, spark_id: str) -> int:
    """The published package (moved aside first, so it is never served half-deleted) and every build
    leftover of the job; 1 when there was a package."""
    final = base / spark_id
    had_package = final.is_dir()
    if had_package:
        try:
            os.rename(final, base / f".{spark_id}.{TRASH_SUFFIX}")
        except OSError as error:
            raise PackageKept(error.errno, f"cannot move {final} aside: {error.strerror}") from None
    for leftover in base.glob(f".{spark_id}.*"):
        _remove(leftover)
    return int(had_package)


def remove_import_copy(base: Path, import_id: str) -> int:
    copy = base / f"{import_id}.json"
    if not copy.exists():
        return 0
    copy.unlink()
    return 1


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


# --- orphans -------------------------------------------------------------------------------------


async def remove_orphans(services: Services, counts: Counter[str]) -> None:
    """Folders and copies on disk whose job is not in the database (a job deleted by hand, a crash)."""
    settings = services.settings
    found = await asyncio.to_thread(files_by_job, settings.export_base_path, settings.import_base_path)
    ids = sorted(found)
    batch = settings.retention_batch_size
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        cursor = jobs(services.database).find({"_id": {"$in": chunk}}, projection={"_id": 1})
        existing = {document["_id"] for document in await cursor.to_list(length=len(chunk))}
        for job_id in chunk:
            if job_id in existing:
                continue
            for path in found[job_id]:
                try:
                    await asyncio.to_thread(_remove, path)
                except OSError as error:
                    counts["failures"] += 1
                    log.warning("retention could not remove an orphan", extra={"path": str(path), "error": str(error)})
                    continue
                counts["orphan_copies_deleted" if path.suffix == ".json" else "orphan_folders_deleted"] += 1


def files_by_job(export_base: Path, import_base: Path) -> dict[str, list[Path]]:
    """What this service wrote, by the job id in its name: `<id>/` and `.<id>.*` folders of exports,
    `<id>.json` copies of imports. Anything else in those folders is not ours and is left alone."""
    found: dict[str, list[Path]] = {}
    for entry in _entries(export_base):
        name = entry.name[1:].split(".", 1)[0] if entry.name.startswith(".") else entry.name
        if is_job_id(name) and entry.is_dir() and not entry.is_symlink():
            found.setdefault(name, []).append(entry)
    for entry in _entries(import_base):
        if entry.suffix == ".json" and is_job_id(entry.stem) and entry.is_file():
            found.setdefault(entry.stem, []).append(entry)
    return found


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []
