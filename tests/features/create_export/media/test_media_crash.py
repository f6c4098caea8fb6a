"""kill -9 of the service mid-subclip: its ffmpeg dies with it, and another process takes the job over
and completes it (real `python main.py` processes, as in tests/jobs/test_crash_recovery.py)."""

from __future__ import annotations

import time

import pytest
from pymongo import MongoClient

from shared.db import CATALOG_COLLECTION
from tests.features.create_export.media.fixtures import ffmpeg_anywhere_reading
from tests.features.create_export.media.test_cancel import long_comments, long_subclips_order
from tests.package_check import check_package
from tests.processes import ServiceProcess, service_env

pytestmark = pytest.mark.slow
LEASE = 3


def wait(predicate, within: float, message: str):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"{message} (waited {within:g} s)")


def test_kill_9_mid_subclip_is_taken_over_and_completes(settings, long_media, tmp_path) -> None:
    with MongoClient(settings.mongodb_url) as mongo:
        mongo[settings.fabric_catalog_db][CATALOG_COLLECTION].insert_many(long_comments())
        jobs = mongo[settings.mongodb_db_name]["jobs"]
        env = service_env(settings, lease_seconds=LEASE, media_roots=long_media)
        first = ServiceProcess(env, tmp_path / "first.log", "first").start()
        second = None
        try:
            spark_id = first.post("/spark", json=long_subclips_order()).json()["spark_id"]
            wait(lambda: ffmpeg_anywhere_reading(long_media), 60, "ffmpeg never started")
            first.kill()
            # PR_SET_PDEATHSIG: no orphan ffmpeg keeps writing into the dead run's build folder.
            wait(lambda: not ffmpeg_anywhere_reading(long_media), 5, "ffmpeg outlived the killed service")

            second = ServiceProcess(env, tmp_path / "second.log", "second").start()
            job = wait(
                lambda: jobs.find_one({"_id": spark_id, "status": {"$in": ["completed", "failed"]}}),
                180,
                "the job was not completed by the second process",
            )
        finally:
            first.stop()
            if second is not None:
                second.stop()
    assert job["status"] == "completed", job.get("error")
    assert job["attempts"] == 2 and job["runs"][0]["outcome"] == "lease_expired"
    manifest = job["result"]["manifest"]
    assert manifest["counts"]["subclips"] == 4
    check_package(settings.export_base_path / spark_id, manifest)
    assert not [p.name for p in settings.export_base_path.iterdir() if p.name.startswith(".")]
