"""Every attempt's record keeps its outcome, its error and the last lines of its traceback."""

from __future__ import annotations

from shared.job_execution import TRACEBACK_LINES
from shared.jobs import JobStatus, submit_job
from shared.leases import JobRun
from tests.jobs.test_job_runner import Transient, runner_for, speed_up_retry, wait_for


def parse_the_catalog(depth: int) -> None:
    if depth:
        read_a_document(depth - 1)  # two functions in turn, so Python does not fold the repeated frames
        return
    raise ValueError("the catalog answered something unreadable")


def read_a_document(depth: int) -> None:
    parse_the_catalog(depth)


async def test_each_attempt_records_its_error_and_traceback_tail(database, make_settings) -> None:
    calls = 0

    async def process(run: JobRun) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Transient("catalog down")
        if calls == 2:
            parse_the_catalog(depth=40)  # a deep stack: only its last lines are kept
        await run.finish(JobStatus.completed)

    runner = runner_for(database, make_settings, process, max_attempts=3)
    runner.start()
    submitted = await submit_job(database, "test", "repo", {"n": 1})
    runner.nudge()
    await wait_for(database, submitted.job.id, {"pending"})
    await speed_up_retry(database, submitted.job.id)
    runner.nudge()
    job = await wait_for(database, submitted.job.id, {"failed"})
    await runner.shutdown()

    first, second = job.runs
    assert (first["outcome"], first["error"]) == ("retry", "Transient: catalog down")
    assert first["traceback"].splitlines()[-1] == "tests.jobs.test_job_runner.Transient: catalog down"
    assert second["outcome"] == "failed" and second["error"].startswith("ValueError: the catalog answered")
    lines = second["traceback"].splitlines()
    assert len(lines) == TRACEBACK_LINES
    assert "parse_the_catalog" in second["traceback"] and "Traceback (most recent call last)" not in lines
    assert lines[-1] == "ValueError: the catalog answered something unreadable"
    assert job.error == second["error"]
