"""A job submitted to a process with a free slot is claimed by its own insert (`JobRunner.submit`)."""

from __future__ import annotations

import asyncio

import pytest

from shared.jobs import JobStatus, load_job, submit_job
from shared.leases import JobRun
from shared.problems import Problem
from tests.jobs.test_job_runner import runner_for, wait_for


def storing(database, payload, **options):
    """The `store` a route hands the runner: `submit_job` with the claim fields it is given."""
    return lambda claimed: submit_job(database, "test", "repo", payload, claimed=claimed, **options)


def counting_claims(monkeypatch) -> list[str]:
    from shared import job_runner

    claims: list[str] = []
    real_claim = job_runner.claim_job

    async def recording_claim(database, kind, job_id, *args, **kwargs):
        claims.append(job_id)
        return await real_claim(database, kind, job_id, *args, **kwargs)

    monkeypatch.setattr(job_runner, "claim_job", recording_claim)
    return claims


def completing_once(release: asyncio.Event):
    """A processor whose runs wait for `release`, then complete their job."""

    async def process(run: JobRun) -> None:
        await release.wait()
        await run.finish(JobStatus.completed)

    return process


async def test_a_free_slot_makes_the_insert_the_claim(database, make_settings, monkeypatch) -> None:
    claims = counting_claims(monkeypatch)
    release = asyncio.Event()
    process = completing_once(release)
    runner = runner_for(database, make_settings, process)
    runner.start()
    submitted = await runner.submit("test", storing(database, {"n": 1}))
    stored = await load_job(database, "test", submitted.job.id)
    release.set()
    finished = await wait_for(database, submitted.job.id, {"completed"})
    await runner.shutdown()

    assert submitted.job.status == JobStatus.processing and submitted.job.lease_token is not None
    assert (stored.status, stored.worker_id, stored.attempts) == (JobStatus.processing, "test-worker", 1)
    assert stored.started_at == stored.created_at and stored.lease_token == submitted.job.lease_token
    assert stored.runs == [{**stored.runs[0], "attempt": 1, "outcome": None}]
    assert finished.attempts == 1 and finished.runs[0]["outcome"] == "completed" and finished.lease_token is None
    assert claims == []  # no claim write: the insert was it


async def test_with_every_slot_busy_the_job_is_stored_pending(database, make_settings, monkeypatch) -> None:
    claims = counting_claims(monkeypatch)
    release = asyncio.Event()
    process = completing_once(release)
    runner = runner_for(database, make_settings, process, concurrency=1)
    runner.start()
    first = await runner.submit("test", storing(database, {"n": 1}))
    second = await runner.submit("test", storing(database, {"n": 2}))
    waiting = await load_job(database, "test", second.job.id)
    release.set()
    finished = [await wait_for(database, one.job.id, {"completed"}) for one in (first, second)]
    await runner.shutdown()

    assert (first.job.status, waiting.status, waiting.attempts) == (JobStatus.processing, JobStatus.pending, 0)
    assert [job.attempts for job in finished] == [1, 1]
    assert claims == [second.job.id]


async def test_a_replay_starts_nothing_and_holds_no_slot(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        await run.finish(JobStatus.completed)

    runner = runner_for(database, make_settings, process)
    runner.start()
    first = await runner.submit("test", storing(database, {"n": 1}, idempotency_key="key-1"))
    await wait_for(database, first.job.id, {"completed"})
    again = await runner.submit("test", storing(database, {"n": 1}, idempotency_key="key-1"))
    job = await load_job(database, "test", first.job.id)
    await runner.shutdown()

    assert (again.created, again.job.id) == (False, first.job.id)
    assert job.attempts == 1 and len(job.runs) == 1
    assert runner._reserved["test"] == 0 and runner.running_counts()["test"] == 0


async def test_a_store_that_fails_gives_its_slot_back(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        await run.finish(JobStatus.completed)

    async def refused(claimed):
        raise Problem("not ready", status=503, slug="not-ready")

    runner = runner_for(database, make_settings, process, concurrency=1)
    with pytest.raises(Problem):
        await runner.submit("test", refused)
    submitted = await runner.submit("test", storing(database, {"n": 1}))
    await runner.shutdown()

    assert runner._reserved["test"] == 0
    assert submitted.job.status == JobStatus.processing  # the slot was free again


async def test_a_job_stored_claimed_as_shutdown_begins_is_handed_back(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        raise AssertionError("a stopping runner starts nothing")

    runner = runner_for(database, make_settings, process)

    async def store_while_stopping(claimed):
        runner._stopping = True  # SIGTERM arrives while the insert is under way
        return await submit_job(database, "test", "repo", {"n": 1}, claimed=claimed)

    submitted = await runner.submit("test", store_while_stopping)
    job = await load_job(database, "test", submitted.job.id)

    assert (job.status, job.attempts, job.lease_token) == (JobStatus.pending, 0, None)
    assert job.runs[0]["outcome"] == "handed_back" and runner.running_counts()["test"] == 0
