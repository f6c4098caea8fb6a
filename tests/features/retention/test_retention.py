"""Retention on the real app: old finished jobs go with their package, batches and copy; young,
pending and running ones stay; orphans go; a failure halfway leaves the job and package consistent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from features.create_import.create_import import BATCHES_COLLECTION
from features.retention.retention import TASK
from shared.jobs import jobs, utc_now
from shared.periodic import tasks
from tests.features.create_import.support import import_document
from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset
from tools.fabric_stub import serve_in_thread


@pytest.fixture
def stub():
    with serve_in_thread() as running:
        yield running


@pytest.fixture
def settings(make_settings, stub):
    return make_settings(fabric_api_url=stub.url, fabric_import_batch_size=2, retention_batch_size=2)


async def finished(client, path: str, body: dict) -> str:
    response = await client.post(path, json=body)
    assert response.status_code == 202, response.text
    job_id = response.json().get("spark_id") or response.json()["import_id"]
    await wait_until_finished(client, response.json()["links"]["status"])
    return job_id


async def age(database, job_id: str, days: float) -> None:
    """Make a job look as if it had been created, started and finished `days` ago."""
    moment = utc_now() - timedelta(days=days)
    fields = {"created_at": moment, "not_before": moment, "started_at": moment, "updated_at": moment}
    job = await jobs(database).find_one({"_id": job_id})
    if job["completed_at"] is not None:
        fields["completed_at"] = moment
    await jobs(database).update_one({"_id": job_id}, {"$set": fields})


async def sweep_now(app) -> dict:
    """Make the retention period due now and wait for a run to end; the task's document after it."""
    collection = tasks(app.state.database)
    await app.state.scheduler.run_due()  # registers the task (it may run right away: let it end)
    await wait_idle(app)
    before = await collection.find_one({"_id": TASK})
    runs = sum((before.get("outcomes") or {}).values())
    await collection.update_one({"_id": TASK}, {"$set": {"next_run_at": utc_now()}})
    for _ in range(500):
        await app.state.scheduler.run_due()
        document = await collection.find_one({"_id": TASK})
        if sum((document.get("outcomes") or {}).values()) > runs:
            return document
        await asyncio.sleep(0.02)
    raise AssertionError("retention did not run")


async def wait_idle(app) -> None:
    for _ in range(500):
        if not app.state.scheduler._running:
            return
        await asyncio.sleep(0.02)


async def test_old_finished_jobs_go_with_their_files_and_the_rest_stays(app, client, catalog, settings, stub):
    database = app.state.database
    await load_demo_asset(catalog)
    old_export = await finished(client, "/spark", work_order(["json"]))
    young_export = await finished(client, "/spark", work_order(["json"]))
    stub.state.faults.extend([{"status": 400}] * 4)  # two imports of two batches, every batch rejected
    old_failed_import = await finished(client, "/spark/import", import_document(3))  # failed, 100 days old
    recent_failed_import = await finished(client, "/spark/import", import_document(3))  # failed, 40 days old
    stub.state.faults.clear()
    old_import = await finished(client, "/spark/import", import_document(3))
    app.state.runner._stopping = True
    pending = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    for job_id, days in [(old_export, 31), (young_export, 29), (old_import, 31), (pending, 400)]:
        await age(database, job_id, days)
    await age(database, old_failed_import, 100)
    await age(database, recent_failed_import, 40)
    processing = str(uuid.uuid4())
    await jobs(database).insert_one(
        {
            **(await jobs(database).find_one({"_id": young_export})),
            "_id": processing,
            "status": "processing",
            "idempotency_key": f"export:id:{processing}",
            "completed_at": utc_now() - timedelta(days=400),
        }
    )
    orphan_package = settings.export_base_path / str(uuid.uuid4())
    orphan_build = settings.export_base_path / f".{uuid.uuid4()}.0123abcd.partial"
    orphan_copy = settings.import_base_path / f"{uuid.uuid4()}.json"
    not_ours = settings.export_base_path / "notes"
    for folder in (orphan_package, orphan_build, not_ours):
        folder.mkdir()
        (folder / "file.txt").write_text("left behind")
    orphan_copy.write_text("{}")

    document = await sweep_now(app)
    remaining = {doc["_id"] for doc in await jobs(database).find({}, projection={"_id": 1}).to_list()}
    batches = database.collection(BATCHES_COLLECTION)

    assert remaining == {young_export, recent_failed_import, pending, processing}
    assert not (settings.export_base_path / old_export).exists()
    assert (settings.export_base_path / young_export / "manifest.json").is_file()
    assert not list(settings.export_base_path.glob(f".{old_export}.*"))
    for gone in (old_import, old_failed_import):
        assert not (settings.import_base_path / f"{gone}.json").exists()
        assert await batches.count_documents({"import_id": gone}) == 0
    assert (settings.import_base_path / f"{recent_failed_import}.json").is_file()
    assert await batches.count_documents({"import_id": recent_failed_import}) == 2
    assert not orphan_package.exists() and not orphan_build.exists() and not orphan_copy.exists()
    assert (not_ours / "file.txt").is_file()
    expected = {
        "jobs_deleted": 3,
        "packages_deleted": 1,
        "import_copies_deleted": 2,
        "import_batches_deleted": 4,
        "orphan_folders_deleted": 2,
        "orphan_copies_deleted": 1,
    }
    assert document["last_run"]["counts"] == expected and document["counts"] == expected
    metrics = (await client.get("/metrics")).text
    assert 'ai_spark_periodic_task_counts{count="jobs_deleted",task="retention"} 3.0' in metrics
    assert 'ai_spark_periodic_task_runs{outcome="completed",task="retention"}' in metrics


@contextlib.contextmanager
def unwritable(locked: Path, root: Path):
    """`locked` cannot be changed: nothing in it removed or renamed, nothing renamed into or out of it.
    Root ignores permissions, so as root the immutable attribute does it (ext4 and most filesystems).
    On the way out everything under `root` is unlocked, wherever the sweep moved it."""
    if os.geteuid() == 0:
        if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
            pytest.skip("needs chattr +i on this filesystem to make a folder unwritable as root")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-R", "-i", str(root)], check=True)
        return
    locked.chmod(0o555)
    try:
        yield
    finally:
        for folder in [root, *(path for path in root.rglob("*") if path.is_dir())]:
            folder.chmod(0o755)


async def test_a_package_that_cannot_be_moved_leaves_job_and_package_whole(app, client, catalog, settings):
    await load_demo_asset(catalog)
    spark_id = await finished(client, "/spark", work_order(["json", "srt"]))
    await age(app.state.database, spark_id, 31)
    package = settings.export_base_path / spark_id
    files = sorted(path.relative_to(package) for path in package.rglob("*"))

    with unwritable(settings.export_base_path, settings.export_base_path):
        document = await sweep_now(app)
        job = await client.get(f"/spark/{spark_id}")
        download = await client.get(f"/spark/{spark_id}/package")

    assert document["last_run"]["counts"].get("failures") == 1 and "jobs_deleted" not in document["last_run"]["counts"]
    assert job.status_code == 200 and job.json()["status"] == "completed"
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert sorted(path.relative_to(package) for path in package.rglob("*")) == files
    assert "deleting" not in await jobs(app.state.database).find_one({"_id": spark_id})

    document = await sweep_now(app)  # the next period, the folder writable again
    assert document["last_run"]["counts"]["jobs_deleted"] == 1
    assert (await client.get(f"/spark/{spark_id}")).status_code == 404
    assert list(settings.export_base_path.iterdir()) == []


async def test_files_that_cannot_be_removed_keep_the_job_until_the_next_period(app, client, catalog, settings):
    await load_demo_asset(catalog)
    spark_id = await finished(client, "/spark", work_order(["json"]))
    await age(app.state.database, spark_id, 31)
    package = settings.export_base_path / spark_id

    inner = next(path for path in package.iterdir() if path.is_dir())
    with unwritable(inner, settings.export_base_path):
        document = await sweep_now(app)
        job = await jobs(app.state.database).find_one({"_id": spark_id})
        retry = await client.post(f"/spark/{spark_id}/retry")
        download = await client.get(f"/spark/{spark_id}/package")

    assert document["last_run"]["counts"].get("failures") == 1
    assert job is not None and job["deleting"] is True  # moved out of the served place, not yet gone
    assert download.status_code == 404
    assert retry.status_code == 409 and "being deleted" in retry.json()["detail"]
    document = await sweep_now(app)
    assert document["last_run"]["counts"]["jobs_deleted"] == 1
    assert await jobs(app.state.database).find_one({"_id": spark_id}) is None
    assert list(settings.export_base_path.iterdir()) == []


async def test_retention_days_0_turns_it_off(make_settings, app_factory) -> None:
    app = await app_factory(make_settings(retention_days=0))
    assert app.state.scheduler.periodic == {}
