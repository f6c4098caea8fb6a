"""Per-repository caps (SPEC §7): slot documents taken by compare-and-set, freed at the end of a run,
taken over once a dead run's lease is out; a capped repository never stands in front of the others."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from shared import repo_slots
from shared.job_runner import JobKind, JobRunner
from shared.jobs import JobStatus, jobs, submit_job, utc_now
from shared.leases import JobRun
from tests.jobs.test_job_runner import wait_for


def token() -> str:
    return uuid.uuid4().hex


async def test_at_most_cap_holders_and_a_freed_slot_is_free_again(database) -> None:
    later = utc_now() + timedelta(seconds=60)
    holds = [await repo_slots.acquire(database, "export", "r", 2, token(), f"job{n}", later) for n in range(3)]

    assert holds[0] is not None and holds[1] is not None and holds[2] is None
    assert len(await repo_slots.held_by(database, "export", "r")) == 2
    await repo_slots.release(database, holds[0])
    again = await repo_slots.acquire(database, "export", "r", 2, token(), "job3", later)
    assert again is not None and again.field == holds[0].field
    assert await repo_slots.acquire(database, "export", "other", 2, token(), "job4", later) is not None


async def test_racing_claims_never_exceed_the_cap(database) -> None:
    later = utc_now() + timedelta(seconds=60)
    holds = await asyncio.gather(
        *(repo_slots.acquire(database, "export", "race", 3, token(), f"job{n}", later) for n in range(12))
    )

    assert sum(hold is not None for hold in holds) <= 3
    assert len(await repo_slots.held_by(database, "export", "race")) <= 3


async def test_an_expired_slot_is_taken_over_and_its_old_holder_cannot_extend_or_free_it(database) -> None:
    dead = await repo_slots.acquire(database, "export", "r", 1, token(), "dead", utc_now() + timedelta(seconds=0.2))
    assert await repo_slots.acquire(database, "export", "r", 1, token(), "x", utc_now() + timedelta(seconds=60)) is None
    await asyncio.sleep(0.3)
    heir = await repo_slots.acquire(database, "export", "r", 1, token(), "heir", utc_now() + timedelta(seconds=60))

    assert heir is not None
    assert not await repo_slots.extend(database, dead, utc_now() + timedelta(seconds=60))
    await repo_slots.release(database, dead)  # a late release of the dead run frees nothing
    holders = await repo_slots.held_by(database, "export", "r")
    assert [holder["job_id"] for holder in holders] == ["heir"]


async def test_the_runner_keeps_to_the_cap_and_runs_other_repositories_meanwhile(database, make_settings) -> None:
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    release = asyncio.Event()

    async def process(run: JobRun) -> None:
        repo = run.job.repo_guid
        running[repo] = running.get(repo, 0) + 1
        peak[repo] = max(peak.get(repo, 0), running[repo])
        await release.wait()
        running[repo] -= 1
        await run.finish(JobStatus.completed)

    capped = [(await submit_job(database, "test", "busy", {"n": n})).job.id for n in range(6)]
    others = [(await submit_job(database, "test", f"other{n}", {"n": n})).job.id for n in range(3)]
    kind = JobKind("test", 5, process, lambda e: False, repo_concurrency=2)
    runner = JobRunner(database, make_settings(), [kind], worker_id="w")
    runner.start()
    for job_id in others:  # queued after all six capped jobs, and still running beside two of them
        await wait_for(database, job_id, {"processing"})
    waiting = await jobs(database).find({"_id": {"$in": capped}, "status": "pending"}).to_list(None)
    release.set()
    for job_id in capped + others:
        await wait_for(database, job_id, {"completed"})
    await runner.shutdown()

    assert peak["busy"] == 2
    assert len(waiting) == 4
    assert all("waiting for a slot" in job["progress"]["step"] for job in waiting), [j["progress"] for j in waiting]
    assert await repo_slots.held_by(database, "test", "busy") == []
