"""Claims, leases and fencing against the real database: the mechanics of SPEC §7, one by one."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

import shared.jobs as jobs_module
from shared.db import connect
from shared.jobs import INDEXES, JobStatus, jobs, load_job, request_cancel, submit_job, utc_now
from shared.leases import PROGRESS_INTERVAL, JobCancelled, LeaseLost, claim, claim_job, claim_many
from shared.problems import Problem


async def expire_lease(database, job_id: str) -> None:
    await jobs(database).update_one({"_id": job_id}, {"$set": {"lease_expires": utc_now() - timedelta(seconds=1)}})


async def test_concurrent_claims_of_one_job_have_one_winner(database) -> None:
    await submit_job(database, "export", "repo", {"n": 1})
    runs = await asyncio.gather(*(claim(database, "export", f"worker-{n}", 30) for n in range(12)))

    winners = [run for run in runs if run is not None]
    assert len(winners) == 1
    job = await load_job(database, "export", winners[0].job_id)
    assert job.status == JobStatus.processing and job.attempts == 1
    assert job.lease_token == winners[0].token and job.worker_id == winners[0].worker_id


async def test_oldest_job_is_claimed_first_and_kinds_stay_apart(database) -> None:
    first = await submit_job(database, "export", "repo", {"n": 1})
    await asyncio.sleep(0.002)  # times are kept to the millisecond; a tie is broken by the random id
    await submit_job(database, "export", "repo", {"n": 2})
    imported = await submit_job(database, "import", "repo", {"n": 3})

    assert (await claim(database, "export", "w", 30)).job_id == first.job.id
    assert (await claim(database, "import", "w", 30)).job_id == imported.job.id
    assert (await claim(database, "import", "w", 30)) is None


async def test_a_job_is_not_claimed_before_its_not_before(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    later = utc_now() + timedelta(seconds=30)
    await jobs(database).update_one({"_id": submitted.job.id}, {"$set": {"not_before": later}})
    assert await claim(database, "export", "w", 30) is None


async def test_an_expired_lease_is_reclaimed_and_the_old_run_is_fenced_out(database) -> None:
    await submit_job(database, "export", "repo", {"n": 1})
    stalled = await claim(database, "export", "stalled", 30)
    assert await claim(database, "export", "other", 30) is None  # the lease still holds

    await expire_lease(database, stalled.job_id)
    replacement = await claim(database, "export", "other", 30)

    assert replacement is not None and replacement.attempt == 2
    await asyncio.sleep(PROGRESS_INTERVAL)  # so the late progress is written, not skipped
    with pytest.raises(LeaseLost):
        await stalled.progress(50, "late write")
    with pytest.raises(LeaseLost):
        await stalled.finish(JobStatus.completed, result={"manifest": {"by": "stalled"}})
    assert await stalled.heartbeat() is False
    await replacement.finish(JobStatus.completed, result={"manifest": {"by": "replacement"}})

    job = await load_job(database, "export", stalled.job_id)
    assert job.status == JobStatus.completed and job.result["manifest"] == {"by": "replacement"}
    assert [run["outcome"] for run in job.runs] == ["lease_expired", "completed"]
    assert job.runs[0]["ended_at"] <= job.runs[1]["started_at"]


async def test_heartbeat_extends_the_lease(database) -> None:
    await submit_job(database, "export", "repo", {"n": 1})
    run = await claim(database, "export", "w", 2)
    before = (await load_job(database, "export", run.job_id)).lease_expires
    await asyncio.sleep(0.05)
    assert await run.heartbeat() is True
    after = (await load_job(database, "export", run.job_id)).lease_expires
    assert after > before


async def test_hand_back_returns_the_job_without_counting_the_attempt(database) -> None:
    await submit_job(database, "export", "repo", {"n": 1})
    run = await claim(database, "export", "w", 30)
    await run.hand_back()

    job = await load_job(database, "export", run.job_id)
    assert job.status == JobStatus.pending and job.attempts == 0 and job.lease_token is None
    assert (await claim(database, "export", "w2", 30)).attempt == 1


async def test_retry_later_counts_the_attempt_and_waits(database) -> None:
    await submit_job(database, "export", "repo", {"n": 1})
    run = await claim(database, "export", "w", 30)
    await run.retry_later("catalog down", 60)

    job = await load_job(database, "export", run.job_id)
    assert job.status == JobStatus.pending and job.attempts == 1 and job.error == "catalog down"
    assert job.not_before > utc_now() + timedelta(seconds=50)
    assert await claim(database, "export", "w", 30) is None


async def test_a_cancel_request_stops_the_run_at_its_next_progress(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    run = await claim(database, "export", "w", 30)
    await run.progress(10, "working")
    await jobs(database).update_one({"_id": submitted.job.id}, {"$set": {"cancel_requested": True}})
    await asyncio.sleep(PROGRESS_INTERVAL)  # progress is written at most this often

    with pytest.raises(JobCancelled):
        await run.progress(20, "more work")
    assert await run.heartbeat() is True and run.cancel_requested


async def test_one_look_fills_several_slots_oldest_first(database) -> None:
    ids = []
    for n in range(5):
        ids.append((await submit_job(database, "export", "repo", {"n": n})).job.id)
        await asyncio.sleep(0.002)  # times are kept to the millisecond; a tie is broken by the random id
    runs = await claim_many(database, "export", "w", 30, wanted=3)

    assert [run.job_id for run in runs] == ids[:3]
    assert len({run.token for run in runs}) == 3


async def test_a_job_can_be_claimed_by_its_id_only_while_claimable(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    first = await claim_job(database, "export", submitted.job.id, "w1", 30)
    second = await claim_job(database, "export", submitted.job.id, "w2", 30)

    assert first is not None and second is None
    assert await claim_job(database, "import", submitted.job.id, "w3", 30) is None


async def test_a_prompt_step_is_written_inside_the_interval(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    run = await claim(database, "export", "w", 30)
    await asyncio.sleep(PROGRESS_INTERVAL)
    await run.progress(2, "reading")
    await run.progress(5, "writing the first file", promptly=True)
    await run.progress(6, "too soon, and not prompt")

    assert (await load_job(database, "export", submitted.job.id)).progress == {
        "percent": 5,
        "step": "writing the first file",
    }


async def test_progress_is_written_at_most_every_interval(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    run = await claim(database, "export", "w", 30)
    await run.progress(5, "too soon after the claim to write")
    claimed = (await load_job(database, "export", submitted.job.id)).progress
    await asyncio.sleep(PROGRESS_INTERVAL)
    await run.progress(10, "first")
    await run.progress(20, "too soon to write")
    stored = (await load_job(database, "export", submitted.job.id)).progress
    await asyncio.sleep(PROGRESS_INTERVAL)
    await run.progress(30, "written")

    assert claimed == {"percent": 0, "step": "started"}
    assert stored == {"percent": 10, "step": "first"}
    assert (await load_job(database, "export", submitted.job.id)).progress == {"percent": 30, "step": "written"}
    assert (await load_job(database, "export", submitted.job.id)).runs[0]["attempt"] == 1


async def test_no_job_is_stored_before_the_unique_key_index_exists(settings, monkeypatch) -> None:
    # Start-up creates the indexes in the background; a replayed Idempotency-Key must not slip through.
    monkeypatch.setattr(jobs_module, "INDEX_WAIT_SECONDS", 0.2)
    handle = connect(settings)
    try:
        with pytest.raises(Problem) as refused:
            await submit_job(handle, "export", "repo", {"n": 1}, idempotency_key="key-1")
        assert refused.value.status == 503
        assert await jobs(handle).count_documents({}) == 0

        waiting = asyncio.create_task(submit_job(handle, "export", "repo", {"n": 1}, idempotency_key="key-1"))
        await handle.ensure_indexes(INDEXES)
        first = await waiting
        again = await submit_job(handle, "export", "repo", {"n": 1}, idempotency_key="key-1")
        assert (first.created, again.created, again.job.id) == (True, False, first.job.id)
    finally:
        await handle.close()


async def test_a_job_submitted_here_is_claimed_from_the_copy_in_hand(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    run = await claim_job(database, "export", submitted.job.id, "worker-a", 30, fresh=submitted.job)

    stored = await load_job(database, "export", submitted.job.id)
    assert run is not None and run.run_index == 0 and run.attempt == 1
    assert (stored.status, stored.lease_token, stored.attempts) == (JobStatus.processing, run.token, 1)
    assert stored.runs[0]["lease_token"] == run.token and run.job.payload == stored.payload
    assert await claim_job(database, "export", submitted.job.id, "worker-b", 30, fresh=submitted.job) is None


async def test_a_stale_copy_claims_nothing_and_the_expired_lease_is_found_by_a_look(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    first = await claim_job(database, "export", submitted.job.id, "worker-a", 30)
    assert await claim_job(database, "export", submitted.job.id, "worker-b", 30, fresh=submitted.job) is None

    await expire_lease(database, submitted.job.id)
    second = await claim(database, "export", "worker-b", 30)

    assert second is not None and (second.run_index, second.attempt) == (1, 2) and second.token != first.token
    stored = await load_job(database, "export", submitted.job.id)
    assert [run["worker_id"] for run in stored.runs] == ["worker-a", "worker-b"]


async def test_a_copy_of_a_job_cancelled_meanwhile_claims_nothing(database) -> None:
    submitted = await submit_job(database, "export", "repo", {"n": 1})
    await request_cancel(database, "export", submitted.job.id)

    assert await claim_job(database, "export", submitted.job.id, "worker-a", 30, fresh=submitted.job) is None
    assert (await load_job(database, "export", submitted.job.id)).status == JobStatus.cancelled
