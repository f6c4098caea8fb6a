"""Priorities and per-repository caps across real processes (issue 15's acceptance).

Three `python main.py` processes share the test's database; what happened is read back from the
jobs' run records and the slot documents, never from timings.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from shared.db import CATALOG_COLLECTION
from shared.repo_slots import SLOTS_COLLECTION, slot_document_id
from tests.jobs.cluster import export_order, intervals, load_repos, peak_overlap, post_all, runs_never_overlap, wait
from tests.processes import service_env

pytestmark = pytest.mark.slow

LEASE = 4


def counts(jobs, ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for document in jobs.find({"_id": {"$in": ids}}, {"status": 1}):
        found[document["status"]] = found.get(document["status"], 0) + 1
    return found


def test_a_high_job_behind_200_low_ones_starts_in_the_next_free_slot(settings, mongo, cluster) -> None:
    database = mongo[settings.mongodb_db_name]
    load_repos(mongo[settings.fabric_catalog_db][CATALOG_COLLECTION], ["bulk"], events=4000)
    # Queued through a process that runs none, while three workers of two slots each take them.
    front = cluster(service_env(settings, export_concurrency=0), "front")
    env = service_env(settings, lease_seconds=30, export_concurrency=2, shutdown_grace_seconds=1)
    processes = [cluster(env, f"worker{n}") for n in range(3)]
    lows = post_all([front], "/spark", [export_order("bulk", "low")] * 200, "spark_id")

    # Submitted to the front process, the workers hear of it only through the database.
    high = front.post("/spark", json=export_order("bulk", "high")).json()["spark_id"]
    accepted = datetime.now(UTC)  # the 202 is in: from here on every free slot must take it
    wait(lambda: counts(database.jobs, [high]).get("completed") == 1, 120, "the high job never finished")
    high_job = database.jobs.find_one({"_id": high})
    starts = sorted(
        (run["started_at"], job["_id"])
        for job in database.jobs.find({"_id": {"$in": [*lows, high]}})
        for run in job["runs"]
        if run["started_at"] >= high_job["created_at"]
    )
    before = [job_id for started, job_id in starts if job_id != high and started < high_job["started_at"]]
    after_answer = [job_id for started, job_id in starts if job_id in before and started >= accepted]
    behind = sum(
        1
        for job in database.jobs.find({"_id": {"$in": lows}})
        if not job["runs"] or job["runs"][0]["started_at"] > high_job["started_at"]
    )
    print(
        f"high job: {len(before)} low jobs started between its creation and its start"
        f" ({len(after_answer)} after its 202); {behind} low jobs were still waiting when it started"
    )

    # Claims already under way when its 202 went out (one per process at most) may start first.
    assert len(after_answer) < len(processes), after_answer
    assert behind > 50  # the queue was still deep: the high job passed it


def test_a_repository_cap_holds_across_three_processes_without_slowing_the_others(settings, mongo, cluster) -> None:
    database = mongo[settings.mongodb_db_name]
    others = [f"other{n}" for n in range(10)]
    # Exports big enough that their work, not the claim, sets the pace: with the 200-event default
    # the faster export (issue 14) left the claims' cost deciding who finished first.
    load_repos(mongo[settings.fabric_catalog_db][CATALOG_COLLECTION], ["crowded", *others], events=1500)
    env = service_env(settings, lease_seconds=LEASE, export_concurrency=4, repo_export_concurrency=2)
    processes = [cluster(env, f"api{n}") for n in range(3)]
    crowded = post_all(processes, "/spark", [export_order("crowded")] * 100, "spark_id")
    rest = post_all(processes, "/spark", [export_order(others[n % 10]) for n in range(100)], "spark_id")

    held_back = wait(
        lambda: database.jobs.find_one({"repo_guid": "crowded", "progress.step": {"$regex": "^waiting for a slot"}}),
        60,
        "no waiting job said why it waits",
    )
    wait(lambda: counts(database.jobs, crowded + rest).get("completed") == 200, 300, "not all completed", 0.5)

    crowded_runs = intervals(database.jobs.find({"_id": {"$in": crowded}}))
    other_runs = intervals(database.jobs.find({"_id": {"$in": rest}}))
    crowded_done = sorted(end for _, end, _ in crowded_runs)
    others_done = max(end for _, end, _ in other_runs)
    print(
        f"crowded repository: peak {peak_overlap(crowded_runs)} running; the other repositories: peak"
        f" {peak_overlap(other_runs)}; the last other job ended before {sum(d < others_done for d in crowded_done)}"
        f" of the 100 crowded ones had; said: {held_back['progress']['step']!r}"
    )
    assert peak_overlap(crowded_runs) == 2
    # Queued behind all 100 crowded jobs, the others still had the other ten slots: they were all done
    # while most of the crowded repository's jobs still waited their turn.
    assert others_done < crowded_done[len(crowded_done) // 2]
    assert peak_overlap(other_runs) > 2
    assert all(runs_never_overlap(job) for job in database.jobs.find({"_id": {"$in": crowded + rest}}))
    assert database[SLOTS_COLLECTION].find_one({"_id": slot_document_id("export", "crowded")}) is not None


def test_slots_of_a_killed_process_are_free_again_within_two_leases(settings, mongo, cluster) -> None:
    database = mongo[settings.mongodb_db_name]
    load_repos(mongo[settings.fabric_catalog_db][CATALOG_COLLECTION], ["crowded"], events=6000)
    env = service_env(settings, lease_seconds=LEASE, export_concurrency=4, repo_export_concurrency=2)
    first = cluster(env, "first")
    crowded = post_all([first], "/spark", [export_order("crowded")] * 12, "spark_id")
    slot_id = slot_document_id("export", "crowded")

    def holders() -> dict[str, str]:
        document = database[SLOTS_COLLECTION].find_one({"_id": slot_id}) or {}
        return {key: value["token"] for key, value in document.items() if key.startswith("s") and value}

    wait(lambda: len(holders()) == 2, 60, "the first process never held both slots")
    others = [cluster(env, "second"), cluster(env, "third")]
    dead_tokens = set(holders().values())
    first.kill()
    killed_at = time.monotonic()

    wait(lambda: not dead_tokens & set(holders().values()), 4 * LEASE, "the dead process's slots were never freed")
    freed_after = time.monotonic() - killed_at
    wait(lambda: counts(database.jobs, crowded).get("completed") == 12, 300, "not all completed", 0.5)
    print(f"slots of the killed process free again after {freed_after:.1f} s (lease {LEASE} s)")

    assert freed_after <= 2 * LEASE
    assert peak_overlap(intervals(database.jobs.find({"_id": {"$in": crowded}}))) <= 2
    assert all(process.get("/health").status_code == 200 for process in others)
