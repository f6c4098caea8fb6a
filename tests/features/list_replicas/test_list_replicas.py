"""`GET /replicas`: every process's heartbeat, the same list from each replica, a stopped one going
stale after 2 × LEASE_SECONDS, a day-old one swept, a database hiccup surviving."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import httpx
import pytest

from main import create_app
from shared.db import connect
from shared.jobs import utc_now
from shared.replicas import REPLICAS_COLLECTION, ReplicaHeartbeat, heartbeat_interval, list_replicas


@pytest.fixture
def settings(make_settings):
    return make_settings(lease_seconds=1, export_concurrency=2, import_concurrency=0)


async def eventually(condition, within: float = 20.0):
    deadline = time.monotonic() + within
    while True:
        value = await condition()
        if value:
            return value
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.1)


async def replicas_seen(app) -> dict[str, dict]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        response = await http.get("/replicas")
    assert response.status_code == 200, response.text
    return {replica["id"]: replica for replica in response.json()["replicas"]}


def test_beats_come_a_third_of_a_lease_apart_at_most_five_seconds() -> None:
    assert heartbeat_interval(1) == pytest.approx(1 / 3)
    assert heartbeat_interval(60) == 5.0


async def test_two_replicas_both_appear_agree_and_a_stopped_one_goes_stale(app_factory, settings) -> None:
    first = await app_factory(settings)
    second = create_app(settings)
    second_lifespan = second.router.lifespan_context(second)
    await second_lifespan.__aenter__()
    ids = {first.state.runner.worker_id, second.state.runner.worker_id}
    try:

        async def both_listed():
            seen = await replicas_seen(first)
            return seen if set(seen) == ids else None

        listed = await eventually(both_listed)
        other_view = await replicas_seen(second)
        assert set(other_view) == ids
        for replica_id, replica in listed.items():
            assert replica["stale"] is False
            assert replica["version"] == first.version and replica["pid"] > 0 and replica["host"]
            assert replica["slots"] == {"export": {"used": 0, "limit": 2}, "import": {"used": 0, "limit": 0}}
            assert other_view[replica_id]["started_at"] == replica["started_at"]
    finally:
        await second_lifespan.__aexit__(None, None, None)

    gone = second.state.runner.worker_id

    async def stopped_is_stale():
        seen = await replicas_seen(first)
        return seen if seen[gone]["stale"] else None

    seen = await eventually(stopped_is_stale)
    assert seen[first.state.runner.worker_id]["stale"] is False


async def test_stale_means_unseen_for_two_leases(settings) -> None:
    database = connect(settings)
    try:
        beat = ReplicaHeartbeat(database, "replica-x", "9.9.9", lambda: {}, lease_seconds=30)
        await beat.beat()
        [replica] = await list_replicas(database, 30)
        seen = replica["last_seen"]
        [just_fresh] = await list_replicas(database, 30, now=seen + timedelta(seconds=60))
        [stale] = await list_replicas(database, 30, now=seen + timedelta(seconds=60, milliseconds=1))
        assert just_fresh["stale"] is False and stale["stale"] is True
        assert replica["id"] == "replica-x" and replica["version"] == "9.9.9"
    finally:
        await database.close()


async def test_a_day_old_heartbeat_is_swept(settings) -> None:
    database = connect(settings)
    try:
        collection = database.collection(REPLICAS_COLLECTION)
        await collection.insert_one({"_id": "long-gone", "last_seen": utc_now() - timedelta(days=1, minutes=1)})
        await collection.insert_one({"_id": "recently-gone", "last_seen": utc_now() - timedelta(hours=23)})
        beat = ReplicaHeartbeat(database, "me", "1", lambda: {}, lease_seconds=30)
        beat.start()
        await eventually(lambda: _ids(collection, {"me", "recently-gone"}))
        await beat.stop()
    finally:
        await database.close()


async def _ids(collection, wanted: set[str]) -> bool:
    return {document["_id"] for document in await collection.find({}).to_list()} == wanted


async def test_a_database_hiccup_never_kills_the_heartbeat(make_settings, caplog) -> None:
    unreachable = make_settings(mongodb_url="mongodb://127.0.0.1:9")  # nothing listens on the discard port
    database = connect(unreachable)
    beat = ReplicaHeartbeat(database, "me", "1", lambda: {}, lease_seconds=1)
    try:
        with caplog.at_level(logging.WARNING, logger="ai_spark.replicas"):
            beat.start()

            async def warned():
                return any("cannot write the replica heartbeat" in r.getMessage() for r in caplog.records)

            await eventually(warned)
        assert beat._task is not None and not beat._task.done()
    finally:
        await beat.stop()
        await database.close()
