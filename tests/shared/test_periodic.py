"""Periodic tasks on the real database: one claim per period among several schedulers, the period
advanced once, a dead holder's period taken over, a stale holder fenced out, shutdown hands back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.db import connect
from shared.jobs import utc_now
from shared.periodic import PeriodicRun, PeriodicScheduler, PeriodicTask, next_period, periodic_stats, tasks

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_next_period_is_one_interval_on_or_the_first_slot_still_ahead() -> None:
    assert next_period(T0, 10, T0 + timedelta(seconds=3)) == T0 + timedelta(seconds=10)
    assert next_period(T0, 10, T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=20)
    assert next_period(T0, 10, T0 + timedelta(seconds=47)) == T0 + timedelta(seconds=50)


@pytest.fixture
async def handles(settings):
    opened = [connect(settings) for _ in range(3)]
    yield opened
    for handle in opened:
        await handle.close()


class Recorder:
    """A task whose runs wait for `release`, so a test decides when they end."""

    def __init__(self) -> None:
        self.started: list[tuple[str, datetime]] = []
        self.release = asyncio.Event()

    async def run(self, run: PeriodicRun) -> dict[str, int]:
        self.started.append((run.worker_id, run.period))
        await self.release.wait()
        return {"things_done": 2}


def scheduler(database, recorder: Recorder, name: str, lease_seconds: float = 30, interval: float = 60):
    task = PeriodicTask("recorder", interval, recorder.run)
    return PeriodicScheduler(database, [task], name, lease_seconds=lease_seconds, timeout_seconds=60)


async def wait_until(condition, within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_three_schedulers_run_a_due_period_once_and_advance_it_once(handles) -> None:
    recorder = Recorder()
    schedulers = [scheduler(handle, recorder, f"replica-{n}") for n, handle in enumerate(handles)]

    started = await asyncio.gather(*(each.run_due() for each in schedulers))
    again = await asyncio.gather(*(each.run_due() for each in schedulers))  # the lease is held meanwhile
    assert sum(len(names) for names in started) == 1 and again == [[], [], []]
    recorder.release.set()
    document = tasks(handles[0])
    await wait_until(lambda: not any(each._running for each in schedulers))
    stored = await document.find_one({"_id": "recorder"})

    ((worker, period),) = recorder.started
    assert stored["next_run_at"] == period + timedelta(seconds=60)
    assert stored["lease_token"] is None and stored["outcomes"] == {"completed": 1}
    assert stored["counts"] == {"things_done": 2} and stored["last_run"]["worker_id"] == worker
    assert await asyncio.gather(*(each.run_due() for each in schedulers)) == [[], [], []]  # not due again yet
    assert (await periodic_stats(handles[1]))[0]["counts"] == {"things_done": 2}


async def test_a_dead_holders_period_is_taken_over_once_its_lease_expires(handles) -> None:
    recorder = Recorder()
    dead = scheduler(handles[0], recorder, "dead")
    await dead._register()
    claimed = await dead._claim("recorder")  # claimed, then the process "dies": no heartbeat, no finish
    heir = scheduler(handles[1], recorder, "heir")

    assert await heir.run_due() == []  # the lease is still live
    expired = {"$set": {"lease_expires": utc_now() - timedelta(seconds=1)}}  # as if LEASE_SECONDS had passed
    await tasks(handles[0]).update_one({"_id": "recorder"}, expired)
    assert await heir.run_due() == ["recorder"]
    recorder.release.set()
    await wait_until(lambda: not heir._running)
    late = await claimed.finish(60, "completed", None, {"things_done": 5})  # the dead one wakes up
    stored = await tasks(handles[2]).find_one({"_id": "recorder"})

    assert recorder.started == [("heir", claimed.period)]
    assert late is False
    assert stored["next_run_at"] == claimed.period + timedelta(seconds=60)
    assert stored["counts"] == {"things_done": 2} and stored["last_run"]["worker_id"] == "heir"


async def test_a_failing_run_is_recorded_and_the_period_still_advances(handles) -> None:
    async def broken(run: PeriodicRun) -> None:
        raise RuntimeError("disk on fire")

    task = PeriodicTask("broken", 60, broken)
    one = PeriodicScheduler(handles[0], [task], "replica", lease_seconds=30, timeout_seconds=60)
    await one.run_due()
    await wait_until(lambda: not one._running)
    stored = await tasks(handles[0]).find_one({"_id": "broken"})

    assert stored["outcomes"] == {"failed": 1}
    assert stored["last_run"]["error"] == "RuntimeError: disk on fire"
    assert stored["next_run_at"] > utc_now()


async def test_a_run_whose_outcome_cannot_be_stored_ends_quietly_and_is_run_again_later(handles) -> None:
    async def loses_its_database(run: PeriodicRun) -> dict[str, int]:
        await handles[2].close()  # the database is gone by the time the outcome is written
        return {"things_done": 1}

    task = PeriodicTask("orphaned", 60, loses_its_database)
    one = PeriodicScheduler(handles[2], [task], "replica", lease_seconds=30, timeout_seconds=60)
    await one.run_due()
    running, _ = one._running["orphaned"]
    await asyncio.wait_for(asyncio.shield(running), 10)

    assert running.exception() is None  # no "Task exception was never retrieved" in the log
    stored = await tasks(handles[0]).find_one({"_id": "orphaned"})
    assert not stored.get("outcomes")  # nothing recorded: the period is run again after its lease


async def test_shutdown_hands_the_period_back_for_another_replica(handles) -> None:
    recorder = Recorder()
    leaving = scheduler(handles[0], recorder, "leaving")
    assert await leaving.run_due() == ["recorder"]
    await wait_until(lambda: len(recorder.started) == 1)
    await leaving.shutdown()
    staying = scheduler(handles[1], recorder, "staying")

    assert await staying.run_due() == ["recorder"]
    await wait_until(lambda: len(recorder.started) == 2)
    assert recorder.started[0][1] == recorder.started[1][1]  # the same period, run again
    recorder.release.set()
    await wait_until(lambda: not staying._running)
