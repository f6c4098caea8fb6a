"""kill -9 of the whole `make run` stack with jobs in flight: the database goes down with it, and a
second start serves the same data on the same port and finishes every job (issue 18, SPEC §7).

tests/jobs/test_crash_recovery.py kills the API alone, against the suite's database; here the
database is the stack's own embedded server, which must die with the stack and come back.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest
from pymongo import MongoClient

from tests.package_check import check_package
from tests.server_lifetime import (
    DevStack,
    alive,
    holders_of,
    kill_servers_of,
    parent_of,
    servers_of,
    wait_for,
)
from tools.data_folder_lock import LOCK_FILE_NAME

pytestmark = pytest.mark.slow

LEASE = 4
JOBS = 12
ORDER = {
    "repo_guid": "demo-repo",
    "inputs": {"full_path": "/demo/interview.mov"},
    "outputs": {"markers": {"formats": ["json", "edl"]}, "comments": {"formats": ["json", "fcpxml"]}},
    "user_inputs": {"llm_instructions": False},
    "media": {"frame_rate": "24000/1001"},
}
# Recovery waits out the leases of the runs the kill cut short, then runs what is left.
RECOVERY_WITHIN = 300  # generous: a timeout for a loaded machine, not a measured bound


def statuses(jobs, ids: list[str]) -> Counter:
    return Counter(doc["status"] for doc in jobs.find({"_id": {"$in": ids}}, {"status": 1}))


def test_kill_9_of_the_stack_takes_its_database_along_and_a_restart_finishes_the_jobs(tmp_path) -> None:
    data = tmp_path / "data"
    first = DevStack(data, tmp_path / "first.log", lease_seconds=LEASE, export_concurrency=2)
    second = DevStack(data, tmp_path / "second.log", db_port=first.db_port, lease_seconds=LEASE)
    try:
        first.start()
        [server] = servers_of(data / "ferretdb")
        assert parent_of(server) == first.pid
        ids = [httpx.post(first.url + "/spark", json=ORDER, timeout=30).json()["spark_id"] for _ in range(JOBS)]
        with MongoClient(first.mongodb_url) as client:
            jobs = client["ai_spark_db"]["jobs"]
            wait_for(lambda: statuses(jobs, ids)["processing"] >= 1, 60, "no job started processing")
            at_kill = statuses(jobs, ids)

        killed = time.monotonic()
        first.kill_group()
        wait_for(lambda: not alive(server), 2.0, f"ferretdb-embedded {server} outlived its stack", step=0.02)
        print(f"the server was gone {time.monotonic() - killed:.2f} s after kill -9 of the stack")
        assert servers_of(data) == set()
        assert holders_of(data) == set(), "a process still has files of the stack's data folder open"

        second.start()
        [restarted] = servers_of(data / "ferretdb")
        assert restarted != server and parent_of(restarted) == second.pid
        holder = json.loads((data / "ferretdb" / LOCK_FILE_NAME).read_text())
        assert holder == {"pid": restarted, "listen": f"127.0.0.1:{first.db_port}"}
        with MongoClient(second.mongodb_url) as client:
            jobs = client["ai_spark_db"]["jobs"]
            wait_for(
                lambda: statuses(jobs, ids)["completed"] == JOBS,
                RECOVERY_WITHIN,
                f"not all completed after the restart: {statuses(jobs, ids)}",
                step=0.5,
            )
            finished = list(jobs.find({"_id": {"$in": ids}}))
    finally:
        second.stop()
        first.stop()
        kill_servers_of(data)

    assert at_kill["processing"] >= 1 and at_kill["completed"] < JOBS, at_kill
    reclaimed = [job for job in finished if job["attempts"] > 1]
    assert reclaimed, "the runs the kill cut short must show a second attempt"
    for job in reclaimed:
        assert job["runs"][0]["outcome"] == "lease_expired" and job["runs"][-1]["outcome"] == "completed"
    for job in finished:
        check_package(data / "exports" / job["_id"], job["result"]["manifest"])
