"""Three real processes share a periodic task every 2 s for 60 s; the one running it is killed -9 in
the middle of a run and started again: 30 ± 1 periods run, and never two runs at once."""

from __future__ import annotations

import itertools
import sys
import time
from datetime import timedelta

import pytest
from pymongo import MongoClient

from shared.periodic import PERIODIC_COLLECTION
from tests.jobs.periodic_service import INTERVAL_SECONDS, RUNS_COLLECTION, TASK
from tests.processes import ServiceProcess, service_env

pytestmark = pytest.mark.slow
COMMAND = [sys.executable, "-m", "tests.jobs.periodic_service"]
WINDOW_SECONDS = 60


def test_three_processes_run_each_period_once_through_a_kill_9(settings, tmp_path) -> None:
    env = service_env(settings, lease_seconds=2, retention_days=0)
    processes = [ServiceProcess(env, tmp_path / f"p{n}.log", f"p{n}", COMMAND) for n in range(3)]
    try:
        for process in processes:
            process.start()
        with MongoClient(settings.mongodb_url, tz_aware=True) as client:
            database = client[settings.mongodb_db_name]
            runs, task = database[RUNS_COLLECTION], database[PERIODIC_COLLECTION]
            first = wait_for(lambda: runs.find_one(sort=[("period", 1)]), within=30)
            window_start = first["period"]
            window_end = window_start + timedelta(seconds=WINDOW_SECONDS)

            sleep_until(window_start + timedelta(seconds=WINDOW_SECONDS / 2))
            holder = wait_for(lambda: task.find_one({"_id": TASK, "lease_token": {"$ne": None}}), within=10)
            victim = next(p for p in processes if f":{p.pid}:" in holder["worker_id"])
            victim.kill()
            killed_at = time.time()
            processes.append(ServiceProcess(env, tmp_path / "restarted.log", "restarted", COMMAND).start())

            sleep_until(window_end + timedelta(seconds=INTERVAL_SECONDS))
            recorded = list(runs.find().sort("started", 1))
    finally:
        for process in processes:
            process.stop()

    periods = {run["period"] for run in recorded if window_start <= run["period"] < window_end}
    interrupted = [run for run in recorded if run["ended"] is None]
    print(f"periods run: {len(periods)}, runs: {len(recorded)}, interrupted by the kill: {len(interrupted)}")
    assert abs(len(periods) - WINDOW_SECONDS / INTERVAL_SECONDS) <= 1, sorted(periods)
    assert len(interrupted) <= 1 and all(f":{victim.pid}:" in run["worker_id"] for run in interrupted)
    for earlier, later in itertools.pairwise(recorded):
        ended = earlier["ended"] if earlier["ended"] is not None else killed_at
        assert ended <= later["started"], f"two runs at once: {earlier} and {later}"
    workers = {run["worker_id"] for run in recorded}
    assert len(workers) >= 2, "the task moved between processes"


def wait_for(find, within: float):
    deadline = time.monotonic() + within
    while (found := find()) is None:
        assert time.monotonic() < deadline, "not found in time"
        time.sleep(0.05)
    return found


def sleep_until(moment) -> None:
    time.sleep(max(0.0, moment.timestamp() - time.time()))
