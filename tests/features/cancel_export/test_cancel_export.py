"""`POST /spark/{id}/cancel`: pending at once, processing at the next step, finished is 409."""

from __future__ import annotations

import asyncio
import threading

from features.create_export.writers import SEGMENT_WRITERS, SegmentFormat
from shared import leases
from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset


async def test_a_pending_job_is_cancelled_at_once(app, client) -> None:
    app.state.runner._stopping = True  # nothing will claim it
    response = await client.post("/spark", json=work_order(["json"]))
    cancel = await client.post(f"/spark/{response.json()['spark_id']}/cancel")

    assert cancel.status_code == 202
    assert cancel.json()["status"] == "cancelled"
    status = (await client.get(response.json()["links"]["status"])).json()
    assert status["status"] == "cancelled" and status["attempts"] == 0


async def test_a_processing_job_stops_at_its_next_step(client, catalog, settings, monkeypatch) -> None:
    await load_demo_asset(catalog)
    started = asyncio.Event()
    original = SEGMENT_WRITERS["csv"].write

    def slow_writer(path, segments, timeline):
        started.set()
        import time

        time.sleep(0.5)
        return original(path, segments, timeline)

    monkeypatch.setitem(SEGMENT_WRITERS, "csv", SegmentFormat("csv", slow_writer))
    response = await client.post("/spark", json=work_order(["csv"]))
    await asyncio.wait_for(started.wait(), 10)
    cancel = await client.post(f"/spark/{response.json()['spark_id']}/cancel")
    finished = await wait_until_finished(client, response.json()["links"]["status"])

    assert cancel.status_code == 202 and cancel.json()["cancel_requested"] is True
    assert finished["status"] == "cancelled"
    assert not (settings.export_base_path / response.json()["spark_id"]).exists()
    assert list(settings.export_base_path.iterdir()) == []


async def test_a_finished_job_cannot_be_cancelled(client) -> None:
    response = await client.post("/spark", json=work_order(["json"]))
    await wait_until_finished(client, response.json()["links"]["status"])
    cancel = await client.post(f"/spark/{response.json()['spark_id']}/cancel")

    assert cancel.status_code == 409
    assert cancel.headers["content-type"].startswith("application/problem+json")


async def test_unknown_job_is_404(client) -> None:
    assert (await client.post("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/cancel")).status_code == 404


async def test_a_cancel_during_throttled_last_steps_still_wins_over_sealing(
    client, catalog, settings, monkeypatch
) -> None:
    # Every progress write after the claim falls inside the throttle: only the look before sealing
    # can see the cancel (the heartbeat comes every LEASE_SECONDS / 3, long after the job is done).
    monkeypatch.setattr(leases, "PROGRESS_INTERVAL", 600.0)
    await load_demo_asset(catalog)
    started, release = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()
    original = SEGMENT_WRITERS["csv"].write

    def held_writer(path, segments, timeline):
        loop.call_soon_threadsafe(started.set)
        release.wait(timeout=30)
        return original(path, segments, timeline)

    monkeypatch.setitem(SEGMENT_WRITERS, "csv", SegmentFormat("csv", held_writer))
    response = await client.post("/spark", json=work_order(["csv"]))
    await asyncio.wait_for(started.wait(), 10)
    cancel = await client.post(f"/spark/{response.json()['spark_id']}/cancel")
    release.set()
    finished = await wait_until_finished(client, response.json()["links"]["status"])

    assert cancel.status_code == 202
    assert finished["status"] == "cancelled"
    assert list(settings.export_base_path.iterdir()) == []
