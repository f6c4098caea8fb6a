"""The cluster-wide push gate on the real database: three gates (three replicas' handles) share one
rate, slot by slot, and a pause set by one holds every other."""

from __future__ import annotations

import asyncio
import itertools
import time

import httpx
import pytest
import respx

from shared.db import connect
from shared.fabric import INSIGHTS_PATH, FabricApi, FabricTransientError
from shared.fabric_rate import GATE_ID, RATE_COLLECTION, FabricGate


@pytest.fixture
async def handles(settings):
    opened = [connect(settings) for _ in range(3)]
    yield opened
    for handle in opened:
        await handle.close()


async def test_three_gates_hand_out_distinct_slots_spaced_by_the_rate(handles) -> None:
    gates = [FabricGate(handle, requests_per_second=20) for handle in handles]

    slots = await asyncio.gather(*(gate.wait_turn() for gate in gates for _ in range(8)))

    ordered = sorted(slots)
    assert len(set(ordered)) == 24
    gaps = [later - earlier for earlier, later in itertools.pairwise(ordered)]
    assert min(gaps) >= 0.05 - 1e-6, gaps


async def test_a_pause_from_one_replica_holds_the_others(handles) -> None:
    first, second = FabricGate(handles[0], 0), FabricGate(handles[1], 20)
    await first.pause(0.6)
    stored = await handles[2].collection(RATE_COLLECTION).find_one({"_id": GATE_ID})

    unlimited, limited = await asyncio.gather(first.wait_turn(), second.wait_turn())

    assert unlimited >= stored["paused_until"] and limited >= stored["paused_until"]
    await first.pause(0.1)  # a shorter pause never shortens a longer one
    assert (await handles[2].collection(RATE_COLLECTION).find_one({"_id": GATE_ID}))["paused_until"] >= stored[
        "paused_until"
    ]


@respx.mock
async def test_a_429_with_retry_after_pauses_the_gate(handles, settings) -> None:
    url = "https://fabric.example"
    respx.post(url + INSIGHTS_PATH).mock(return_value=httpx.Response(429, headers={"Retry-After": "2"}))
    api = FabricApi(settings.model_copy(update={"fabric_api_url": url}), gate=FabricGate(handles[0], 0))
    sent = time.time()

    with pytest.raises(FabricTransientError):
        await api.push_insights({"insightEvents": []}, "key:0")
    await api.aclose()
    stored = await handles[1].collection(RATE_COLLECTION).find_one({"_id": GATE_ID})

    assert sent + 2 <= stored["paused_until"] <= time.time() + 2
