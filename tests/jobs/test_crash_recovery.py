"""No accepted job is ever lost (SPEC §7): the service as real processes, killed, stopped and restarted.

Each test runs `python main.py` processes against the test's own database and folders, with short
leases, and checks the jobs' documents and packages afterwards.
"""

from __future__ import annotations

import itertools
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from pymongo import MongoClient

from shared.db import CATALOG_COLLECTION
from tests.jobs.cluster import wait
from tests.package_check import check_package
from tests.processes import ServiceProcess, service_env
from tests.support import synthetic_events
from tools.demo_asset import load_demo_asset_sync

pytestmark = pytest.mark.slow

LEASE = 4
SMALL_ORDER = {
    "repo_guid": "demo-repo",
    "inputs": {"full_path": "/demo/interview.mov"},
    "outputs": {"markers": {"formats": ["json", "edl"]}, "comments": {"formats": ["json", "fcpxml"]}},
    "user_inputs": {"llm_instructions": False},
    "media": {"frame_rate": "24000/1001"},
}
# Enough events that an export of LONG_ORDER still runs for seconds: a signal must land while it
# writes. 12,000 did before the export got faster (issue 14); then the job could finish first.
LONG_EVENTS = 40_000
LONG_ORDER = {
    "repo_guid": "long-repo",
    "inputs": {"full_path": "/long/take.mov"},
    "outputs": {"events": {"formats": ["json", "csv", "srt", "vtt", "edl", "fcpxml", "xmeml", "otio", "avid"]}},
    "media": {"frame_rate": "25"},
}


@pytest.fixture
def client(settings):
    with MongoClient(settings.mongodb_url) as mongo:
        yield mongo


@pytest.fixture
def jobs(client, settings):
    return client[settings.mongodb_db_name]["jobs"]


@pytest.fixture
def catalog(client, settings):
    return client[settings.fabric_catalog_db][CATALOG_COLLECTION]


@pytest.fixture
def services(tmp_path):
    started: list[ServiceProcess] = []

    def start(env: dict[str, str], name: str) -> ServiceProcess:
        process = ServiceProcess(env, tmp_path / f"{name}.log", name).start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def statuses(jobs, ids: list[str]) -> Counter:
    return Counter(doc["status"] for doc in jobs.find({"_id": {"$in": ids}}, {"status": 1}))


def assert_packages_valid(jobs, ids: list[str], export_base: Path) -> None:
    for job in jobs.find({"_id": {"$in": ids}}):
        assert job["status"] == "completed", (job["_id"], job.get("error"))
        check_package(export_base / job["_id"], job["result"]["manifest"])
    leftovers = [path.name for path in export_base.iterdir() if path.name.startswith(".")]
    assert leftovers == [], f"build folders left behind: {leftovers}"


def assert_runs_never_overlap(job: dict) -> None:
    runs = sorted(job["runs"], key=lambda run: run["started_at"])
    for earlier, later in itertools.pairwise(runs):
        assert earlier["ended_at"] is not None, (job["_id"], runs)
        assert earlier["ended_at"] <= later["started_at"], (job["_id"], runs)


def test_kill_9_mid_export_loses_nothing(settings, catalog, jobs, services) -> None:
    load_demo_asset_sync(catalog)
    # A long lease on purpose: the bound below (2 × LEASE_SECONDS) must also cover the ~40 exports
    # themselves, and the embedded database reads the demo asset in ~0.5 s per export.
    lease = 10
    env = service_env(settings, lease_seconds=lease, export_concurrency=2)
    first = services(env, "first")
    ids = [first.post("/spark", json=SMALL_ORDER).json()["spark_id"] for _ in range(40)]
    wait(lambda: statuses(jobs, ids)["processing"] >= 1, 30, "nothing started processing")

    first.kill()
    at_kill = statuses(jobs, ids)
    restarted_at = time.monotonic()
    services(env, "second")
    wait(lambda: statuses(jobs, ids)["completed"] == 40, 4 * lease, f"not all completed: {statuses(jobs, ids)}")
    recovery_seconds = time.monotonic() - restarted_at

    assert at_kill["processing"] >= 1 and at_kill["completed"] < 40
    print(f"recovery after restart: {recovery_seconds:.1f} s, at kill: {dict(at_kill)}")
    assert recovery_seconds <= 2 * lease
    assert_packages_valid(jobs, ids, settings.export_base_path)
    reclaimed = [job for job in jobs.find({"_id": {"$in": ids}}) if job["attempts"] > 1]
    assert reclaimed, "the jobs running at the kill must show a second attempt"
    for job in reclaimed:
        assert job["runs"][0]["outcome"] == "lease_expired" and job["runs"][-1]["outcome"] == "completed"
        assert_runs_never_overlap(job)


def test_two_processes_share_one_database_without_overlapping_runs(settings, catalog, jobs, services) -> None:
    catalog.insert_many(synthetic_events("tiny-repo", "/tiny.mov", 20))
    env = service_env(settings, lease_seconds=LEASE, export_concurrency=2)
    left, right = services(env, "left"), services(env, "right")
    order = {
        **SMALL_ORDER,
        "repo_guid": "tiny-repo",
        "inputs": {"full_path": "/tiny.mov"},
        "outputs": {"events": {"formats": ["json"]}},
    }
    ids = [(left if n % 2 else right).post("/spark", json=order).json()["spark_id"] for n in range(200)]

    wait(lambda: statuses(jobs, ids)["completed"] == 200, 240, f"not all completed: {statuses(jobs, ids)}", 0.5)

    workers = Counter()
    for job in jobs.find({"_id": {"$in": ids}}):
        assert_runs_never_overlap(job)
        assert job["attempts"] == len(job["runs"]) == 1, job["runs"]
        workers[job["runs"][0]["worker_id"].rsplit(":", 2)[1]] += 1
    assert len(workers) == 2 and min(workers.values()) >= 20, workers


def test_a_stalled_worker_cannot_overwrite_the_run_that_replaced_it(settings, catalog, jobs, services) -> None:
    catalog.insert_many(synthetic_events("long-repo", "/long/take.mov", LONG_EVENTS))
    env = service_env(settings, lease_seconds=3, export_concurrency=1)
    stalled = services(env, "stalled")
    spark_id = stalled.post("/spark", json=LONG_ORDER).json()["spark_id"]
    wait(
        lambda: (jobs.find_one({"_id": spark_id}) or {}).get("progress", {}).get("percent", 0) >= 5,
        60,
        "the job never started writing",
    )

    stalled.signal(signal.SIGSTOP)
    frozen_token = jobs.find_one({"_id": spark_id})["lease_token"]
    replacement = services(env, "replacement")
    wait(lambda: jobs.find_one({"_id": spark_id})["status"] == "completed", 90, "the replacement never finished")
    completed = jobs.find_one({"_id": spark_id})
    stalled.signal(signal.SIGCONT)

    # The stalled run wakes up, finds its lease taken and stops; its build folder goes with it.
    wait(lambda: not list(settings.export_base_path.glob(f".{spark_id}.*")), 30, "the stalled run left its folder")
    time.sleep(1.0)
    after = jobs.find_one({"_id": spark_id})
    assert after["status"] == "completed" and after["result"] == completed["result"]
    assert after["lease_token"] is None and frozen_token is not None
    assert [run["outcome"] for run in after["runs"]] == ["lease_expired", "completed"]
    assert after["runs"][1]["worker_id"] != after["runs"][0]["worker_id"]
    assert_runs_never_overlap(after)
    check_package(settings.export_base_path / spark_id, after["result"]["manifest"])
    assert replacement.get("/health").status_code == 200
    assert stalled.get("/health").status_code == 200


def test_sigterm_hands_unfinished_jobs_back_uncounted(settings, catalog, jobs, services) -> None:
    catalog.insert_many(synthetic_events("long-repo", "/long/take.mov", LONG_EVENTS))
    grace = 0.5
    env = service_env(settings, lease_seconds=30, export_concurrency=2, shutdown_grace_seconds=grace)
    first = services(env, "first")
    ids = [first.post("/spark", json=LONG_ORDER).json()["spark_id"] for _ in range(3)]
    wait(lambda: statuses(jobs, ids)["processing"] == 2, 30, "two jobs never ran at once")

    sent = time.monotonic()
    first.signal(signal.SIGTERM)
    first.wait(timeout=grace + 15)
    exit_seconds = time.monotonic() - sent

    assert exit_seconds <= grace + 5, exit_seconds
    left = list(jobs.find({"_id": {"$in": ids}}))
    assert all(job["status"] in ("pending", "completed") for job in left), [job["status"] for job in left]
    handed_back = [job for job in left if job["status"] == "pending" and job["runs"]]
    assert handed_back, "a job was running at SIGTERM and must be handed back"
    for job in handed_back:
        assert job["attempts"] == 0 and job["runs"][-1]["outcome"] == "handed_back" and job["lease_token"] is None
    assert not list(settings.export_base_path.glob(".*")), "handed-back runs must remove their build folders"

    services(env, "second")
    wait(lambda: statuses(jobs, ids)["completed"] == 3, 120, f"not all completed: {statuses(jobs, ids)}", 0.5)
    for job in jobs.find({"_id": {"$in": ids}}):
        assert job["attempts"] == 1
