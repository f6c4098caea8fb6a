"""The in-process runner with test processors on the real database: retries, limits, timeouts,
lost leases and shutdown. (The export and import processors are tested in their slices.)"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta

from pymongo.errors import AutoReconnect

from shared.candidates import Candidate
from shared.job_runner import JobKind, JobRunner
from shared.jobs import JobStatus, jobs, load_job, submit_job, utc_now
from shared.leases import JobRun


class Transient(Exception):
    pass


async def wait_for(database, job_id: str, statuses: set[str], within: float = 20.0):
    deadline = time.monotonic() + within
    while True:
        job = await load_job(database, "test", job_id)
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"still {job.status}: {job.error}"
        await asyncio.sleep(0.05)


async def speed_up_retry(database, job_id: str) -> None:
    await jobs(database).update_one({"_id": job_id, "status": "pending"}, {"$set": {"not_before": utc_now()}})


def runner_for(
    database, make_settings, process, concurrency=2, is_transient=lambda e: isinstance(e, Transient), **settings
):
    kind = JobKind("test", concurrency, process, is_transient)
    return JobRunner(database, make_settings(**settings), [kind], worker_id="test-worker")


async def test_a_processor_that_finishes_completes_the_job(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        await run.progress(50, "half")
        await run.finish(JobStatus.completed, result={"answer": 42})

    runner = runner_for(database, make_settings, process)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    runner.nudge()
    job = await wait_for(database, submitted.job.id, {"completed"})
    await runner.shutdown()

    assert job.result == {"answer": 42} and job.attempts == 1 and job.lease_token is None
    assert job.runs[0]["outcome"] == "completed" and job.runs[0]["worker_id"] == "test-worker"


async def test_transient_errors_retry_with_backoff_then_succeed(database, make_settings) -> None:
    calls = []

    async def process(run: JobRun) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise Transient(f"catalog down (call {len(calls)})")
        await run.finish(JobStatus.completed)

    runner = runner_for(database, make_settings, process, max_attempts=3)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    job = await wait_for(database, submitted.job.id, {"completed"}, within=30)
    await runner.shutdown()

    assert job.attempts == 3
    assert [run["outcome"] for run in job.runs] == ["retry", "retry", "completed"]
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert gaps[0] >= 1.5 and gaps[1] >= 3.0, gaps  # 2 s then 4 s, ±20 %


async def test_transient_errors_fail_the_job_after_max_attempts(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        raise Transient(f"still down at attempt {run.attempt}")

    runner = runner_for(database, make_settings, process, max_attempts=2)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    await wait_for(database, submitted.job.id, {"pending"}, within=10)
    await speed_up_retry(database, submitted.job.id)
    job = await wait_for(database, submitted.job.id, {"failed"}, within=20)
    await runner.shutdown()

    assert job.attempts == 2 and job.error == "Transient: still down at attempt 2"


async def test_a_permanent_error_fails_at_once(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        raise ValueError("the work order cannot be done")

    runner = runner_for(database, make_settings, process)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    job = await wait_for(database, submitted.job.id, {"failed"})
    await runner.shutdown()

    assert job.attempts == 1 and "cannot be done" in job.error


async def test_a_run_past_the_job_timeout_fails_as_timed_out(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        await asyncio.sleep(30)

    runner = runner_for(database, make_settings, process, job_timeout_seconds=1)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    job = await wait_for(database, submitted.job.id, {"failed"})
    await runner.shutdown()

    assert job.error == "timed out after 1 s"


async def test_concurrency_is_bounded_per_kind(database, make_settings) -> None:
    running, peak = 0, 0

    async def process(run: JobRun) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.3)
        running -= 1
        await run.finish(JobStatus.completed)

    runner = runner_for(database, make_settings, process, concurrency=2)
    runner.start()
    ids = [(await submit_job(database, "test", "repo", {"n": n})).job.id for n in range(6)]
    runner.nudge()
    for job_id in ids:
        await wait_for(database, job_id, {"completed"})
    await runner.shutdown()

    assert peak == 2


async def test_the_next_job_starts_while_the_last_write_of_the_previous_one_is_in_flight(
    database, make_settings, monkeypatch
) -> None:
    first_write_may_land = asyncio.Event()
    second_started = asyncio.Event()
    working, peak_working = 0, 0
    plain_write = JobRun.write

    async def held_write(run: JobRun, update: dict) -> None:
        if run.job.payload == {"n": 0}:
            await first_write_may_land.wait()  # the final write of the first job is slow to land
        await plain_write(run, update)

    async def process(run: JobRun) -> None:
        nonlocal working, peak_working
        working += 1
        peak_working = max(peak_working, working)
        if run.job.payload == {"n": 1}:
            second_started.set()
        await asyncio.sleep(0.05)
        working -= 1
        await run.finish(JobStatus.completed)

    monkeypatch.setattr(JobRun, "write", held_write)
    runner = runner_for(database, make_settings, process, concurrency=1)
    ids = []
    for n in range(2):
        ids.append((await submit_job(database, "test", "repo", {"n": n})).job.id)
        await asyncio.sleep(0.002)  # distinct created_at: the first job is claimed first
    runner.start()
    await asyncio.wait_for(second_started.wait(), timeout=10)
    first_still_processing = (await load_job(database, "test", ids[0])).status
    first_write_may_land.set()
    finished = [await wait_for(database, job_id, {"completed"}) for job_id in ids]
    await runner.shutdown()

    assert first_still_processing == JobStatus.processing
    assert peak_working == 1  # the slot bounds the work; only the last write overlaps
    assert [job.status for job in finished] == [JobStatus.completed, JobStatus.completed]


async def test_a_run_that_loses_its_lease_is_stopped_and_writes_nothing(database, make_settings) -> None:
    stopped = asyncio.Event()

    async def process(run: JobRun) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise

    runner = runner_for(database, make_settings, process, lease_seconds=1)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    await wait_for(database, submitted.job.id, {"processing"})
    # Another worker took the job over (its lease token replaces ours).
    await jobs(database).update_one(
        {"_id": submitted.job.id}, {"$set": {"lease_token": "someone-else", "worker_id": "other"}}
    )
    await asyncio.wait_for(stopped.wait(), timeout=5)
    await asyncio.sleep(0.2)
    job = await load_job(database, "test", submitted.job.id)
    await runner.shutdown()

    assert job.status == JobStatus.processing and job.lease_token == "someone-else"
    assert job.runs[0]["ended_at"] is None  # the lost run wrote nothing more


async def test_shutdown_hands_unfinished_runs_back_without_counting_them(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        await asyncio.sleep(30)

    runner = runner_for(database, make_settings, process, shutdown_grace_seconds=0.5)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    await wait_for(database, submitted.job.id, {"processing"})
    started = time.monotonic()
    await runner.shutdown()

    job = await load_job(database, "test", submitted.job.id)
    assert time.monotonic() - started < 2
    assert job.status == JobStatus.pending and job.attempts == 0 and job.lease_token is None
    assert job.runs[0]["outcome"] == "handed_back"


async def test_a_processor_that_returns_without_a_status_fails_the_job(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        await run.progress(10, "forgot to finish")

    runner = runner_for(database, make_settings, process)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    job = await wait_for(database, submitted.job.id, {"failed"})
    await runner.shutdown()

    assert "without a final status" in job.error


async def test_a_job_whose_worker_keeps_dying_is_given_up(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        raise AssertionError("never reached")

    submitted = await submit_job(database, "test", "repo", {"n": 1})
    expired = utc_now() - timedelta(seconds=1)
    await jobs(database).update_one(
        {"_id": submitted.job.id},
        {
            "$set": {
                "status": "processing",
                "attempts": 3,
                "lease_token": "dead",
                "lease_expires": expired,
                "runs": [{"worker_id": "dead", "lease_token": "dead", "started_at": expired, "ended_at": None}],
            }
        },
    )
    runner = runner_for(database, make_settings, process, max_attempts=3)
    runner.start()
    job = await wait_for(database, submitted.job.id, {"failed"})
    await runner.shutdown()

    assert "gave up after 3 attempts" in job.error
    assert job.runs[0]["outcome"] == "lease_expired"


async def test_the_poller_survives_a_database_outage(database, make_settings, monkeypatch) -> None:
    from shared import job_runner

    failures = {"left": 3}
    real_look = job_runner.find_candidates

    async def flaky_claim(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise AutoReconnect("connection refused")
        return await real_look(*args, **kwargs)

    async def process(run: JobRun) -> None:
        await run.finish(JobStatus.completed)

    monkeypatch.setattr(job_runner, "find_candidates", flaky_claim)
    runner = runner_for(database, make_settings, process)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    job = await wait_for(database, submitted.job.id, {"completed"})
    await runner.shutdown()

    assert job.status == JobStatus.completed and failures["left"] == 0


async def test_a_kind_with_no_concurrency_is_never_claimed(database, make_settings) -> None:
    async def process(run: JobRun) -> None:
        raise AssertionError("an API-only process must not run jobs")

    runner = runner_for(database, make_settings, process, concurrency=0)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    runner.nudge()
    await asyncio.sleep(1.5)
    job = await load_job(database, "test", submitted.job.id)
    await runner.shutdown()

    assert job.status == JobStatus.pending and job.attempts == 0


async def test_jobs_submitted_here_are_claimed_from_their_copies(database, make_settings, monkeypatch) -> None:
    # The copy spares the claim a round trip of the document, even after a fresh look found the id.
    from shared import job_runner

    copies_used = []
    real_claim = job_runner.claim_job

    async def recording_claim(*args, **kwargs):
        copies_used.append(args[-1] is not None)
        return await real_claim(*args, **kwargs)

    release = asyncio.Event()

    async def process(run: JobRun) -> None:
        await release.wait()
        await run.finish(JobStatus.completed)

    monkeypatch.setattr(job_runner, "claim_job", recording_claim)
    runner = runner_for(database, make_settings, process, concurrency=1)
    submitted = [await submit_job(database, "test", "repo", {"n": n}) for n in range(4)]
    for one in submitted:
        runner.nudge("test", one.job.id, one.job)
    runner.start()
    await asyncio.sleep(0.3)
    runner._last_look["test"] = 0.0  # as if LOOK_INTERVAL had passed: a look finds the ids again
    release.set()
    finished = [await wait_for(database, one.job.id, {"completed"}) for one in submitted]
    await runner.shutdown()

    assert [job.attempts for job in finished] == [1, 1, 1, 1]
    assert copies_used.count(True) == 4, copies_used


async def test_a_timed_look_keeps_the_known_candidates(database, make_settings, monkeypatch) -> None:
    # A look sees only the oldest few jobs; dropping the rest of what the runner knew made a deep
    # backlog look again for every few claims. Here the look sees nothing, and the known jobs still run.
    from shared import job_runner

    async def blind_look(*args, **kwargs) -> list[str]:
        return []

    async def process(run: JobRun) -> None:
        await run.finish(JobStatus.completed)

    monkeypatch.setattr(job_runner, "find_candidates", blind_look)
    runner = runner_for(database, make_settings, process, concurrency=1)
    submitted = [await submit_job(database, "test", "repo", {"n": n}) for n in range(3)]
    for one in submitted:
        runner._candidates["test"].add(Candidate.from_document(one.job.model_dump_doc()))  # as if nudged
    runner._last_look["test"] = 0.0  # a look is due first
    runner.start()
    finished = [await wait_for(database, one.job.id, {"completed"}) for one in submitted]
    await runner.shutdown()

    assert [job.status for job in finished] == [JobStatus.completed] * 3


async def test_a_look_merges_with_the_known_candidates_in_queue_order(database, make_settings, monkeypatch) -> None:
    from shared import job_runner

    base = utc_now()

    def at(seconds: float, job_id: str) -> Candidate:
        return Candidate(base + timedelta(seconds=seconds), job_id)

    async def look(*args, **kwargs) -> list[Candidate]:
        return [at(1, "older-1"), at(4, "known-2"), at(5, "older-3")]

    async def process(run: JobRun) -> None:
        raise AssertionError("nothing runs here")

    monkeypatch.setattr(job_runner, "find_candidates", look)
    runner = runner_for(database, make_settings, process)
    runner._candidates["test"].extend([at(9, "known-1"), at(4, "known-2")])
    await runner._look("test", 1)

    assert runner._candidates["test"].ids() == ["older-1", "known-2", "older-3", "known-1"]
