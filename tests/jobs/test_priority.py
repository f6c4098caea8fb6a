"""Priority with aging (SPEC §7): the queue order, and a runner that holds candidates in memory
still takes a high job submitted elsewhere next."""

from __future__ import annotations

import asyncio

from shared.job_runner import JobKind, JobRunner
from shared.jobs import JobStatus, jobs, submit_job
from shared.leases import JobRun, find_candidates
from shared.queue_control import note_jump
from tests.jobs.test_job_runner import wait_for


async def submit(database, priority: str, aging: float = 600.0, repo: str = "repo") -> str:
    submitted = await submit_job(database, "test", repo, {"p": priority}, priority=priority, aging_seconds=aging)
    return submitted.job.id


async def test_high_first_then_oldest(database) -> None:
    first_low, normal, high, second_low = [await submit(database, p) for p in ("low", "normal", "high", "low")]
    order = [candidate.job_id for candidate in await find_candidates(database, "test", 10)]

    assert order == [high, normal, first_low, second_low]


async def test_a_low_job_that_waited_long_enough_passes_newer_normal_ones(database) -> None:
    aging = 0.3
    early_low = await submit(database, "low", aging)
    await asyncio.sleep(2 * aging + 0.05)  # more than one level's worth of waiting
    newer_normal = await submit(database, "normal", aging)
    fresh_low = await submit(database, "low", aging)
    order = [candidate.job_id for candidate in await find_candidates(database, "test", 10)]

    assert order == [early_low, newer_normal, fresh_low]


async def test_a_low_job_that_has_not_waited_long_enough_stays_behind(database) -> None:
    low = await submit(database, "low", 600)
    normal = await submit(database, "normal", 600)
    order = [candidate.job_id for candidate in await find_candidates(database, "test", 10)]

    assert order == [normal, low]


async def test_a_high_job_submitted_elsewhere_is_the_next_claim_despite_known_candidates(
    database, make_settings
) -> None:
    started: list[str] = []
    release = asyncio.Event()

    async def process(run: JobRun) -> None:
        started.append(run.job_id)
        await release.wait()
        await run.finish(JobStatus.completed)

    lows = [await submit(database, "low") for _ in range(30)]
    runner = JobRunner(database, make_settings(), [JobKind("test", 1, process, lambda e: False)], worker_id="w")
    runner.start()
    await wait_for(database, lows[0], {"processing"})
    assert len(runner._candidates["test"]) >= 20  # the look kept the other lows in memory
    # Another replica stores a high job and bumps the queue-jump count, as `JobRunner.submit` does.
    high = await submit(database, "high")
    await note_jump(database, "test")
    release.set()
    await wait_for(database, high, {"completed"})
    await runner.shutdown()

    assert started[:2] == [lows[0], high]


async def test_a_low_job_waiting_past_its_aging_is_claimed_before_newer_normal_ones(database, make_settings) -> None:
    started: list[str] = []

    async def process(run: JobRun) -> None:
        started.append(run.job_id)
        await run.finish(JobStatus.completed)

    aging = 0.3
    old_low = await submit(database, "low", aging)
    await asyncio.sleep(2 * aging + 0.05)
    normals = [await submit(database, "normal", aging) for _ in range(3)]
    settings = make_settings(priority_aging_seconds=aging)
    runner = JobRunner(database, settings, [JobKind("test", 1, process, lambda e: False)], worker_id="w")
    runner.start()
    for job_id in [old_low, *normals]:
        await wait_for(database, job_id, {"completed"})
    await runner.shutdown()

    assert started == [old_low, *normals]
    stored = await jobs(database).find_one({"_id": old_low})
    assert stored["priority"] == "low"
