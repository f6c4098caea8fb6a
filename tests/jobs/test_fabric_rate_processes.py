"""Three real processes push 20 batches each to the stub at FABRIC_MAX_REQUESTS_PER_SECOND=5: the
stub sees at most 5 pushes in any one-second window (one of slack), and a 429 `Retry-After: 3` to
one replica stops every replica's pushes for 3 s."""

from __future__ import annotations

import bisect
import time

import pytest

from tests.features.create_import.support import import_document
from tests.processes import ServiceProcess, service_env
from tools.fabric_stub import serve_in_thread

pytestmark = pytest.mark.slow
RATE = 5
BATCHES = 20
PAUSE = 3


def test_three_replicas_share_one_push_rate_and_one_pause(settings, tmp_path) -> None:
    with serve_in_thread() as stub:
        stub.state.faults.extend([{}] * 12 + [{"status": 429, "retry_after": PAUSE}])
        env = service_env(
            settings,
            fabric_api_url=stub.url,
            fabric_import_batch_size=1,
            fabric_max_requests_per_second=RATE,
            retention_days=0,
        )
        processes = [ServiceProcess(env, tmp_path / f"p{n}.log", f"p{n}") for n in range(3)]
        try:
            for process in processes:
                process.start()
            ids = [
                process.post("/spark/import", json=import_document(BATCHES)).json()["import_id"]
                for process in processes
            ]
            for process, import_id in zip(processes, ids, strict=True):
                wait_completed(process, import_id)
        finally:
            for process in processes:
                process.stop()
        received = sorted(stub.state.received, key=lambda call: call["arrived_at"])

    arrivals = [call["arrived_at"] for call in received]
    busiest = max(bisect.bisect_left(arrivals, start + 1.0) - index for index, start in enumerate(arrivals))
    (limited,) = [call for call in received if call["status"] == 429]
    after = [call for call in received if call["arrived_at"] > limited["arrived_at"]]
    gap = after[0]["arrived_at"] - limited["arrived_at"]
    replicas_after = {call["idempotency_key"].split(":")[0] for call in after[:6]}
    print(f"pushes: {len(received)}, busiest one-second window: {busiest}, quiet after the 429: {gap:.3f} s")

    assert len(received) == 3 * BATCHES + 1  # the batch answered 429 is sent again
    assert busiest <= RATE + 1, busiest
    assert gap >= PAUSE - 0.01, gap
    assert len(replicas_after) >= 2, "the pause held more than the replica that got the 429"


def wait_completed(process: ServiceProcess, import_id: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while (status := process.get(f"/spark/import/{import_id}/status").json()["status"]) != "completed":
        assert status in ("pending", "processing") and time.monotonic() < deadline, status
        time.sleep(0.2)
