"""`POST /spark/import/{id}/retry`: only the batches Fabric has not accepted are sent again; the stub
(a real server in a thread) counts every push by its Idempotency-Key."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.features.create_import.support import import_document
from tests.support import wait_until_finished
from tools.fabric_stub import serve_in_thread


@pytest.fixture
def stub():
    with serve_in_thread() as running:
        yield running


@pytest.fixture
def settings(make_settings, stub):
    return make_settings(fabric_api_url=stub.url, fabric_import_batch_size=1, fabric_max_retries=0)


def pushes_by_batch(stub) -> Counter[int]:
    return Counter(int(call["idempotency_key"].rsplit(":", 1)[1]) for call in stub.state.received)


async def test_a_partially_completed_import_resends_only_its_failed_batches(client, stub) -> None:
    # Five batches of one highlight; Fabric rejects the second and the fourth the first time.
    stub.state.faults.extend([{}, {"status": 400, "body": "bad start"}, {}, {"status": 422}, {}])
    created = await client.post("/spark/import", json=import_document(5))
    import_id = created.json()["import_id"]
    first = await wait_until_finished(client, f"/spark/import/{import_id}/status")
    assert first["status"] == "partially_completed"

    retry = await client.post(f"/spark/import/{import_id}/retry")
    assert retry.status_code == 202, retry.text
    assert retry.json()["batches_to_send"] == 2
    done = await wait_until_finished(client, f"/spark/import/{import_id}/status")
    job = (await client.get(f"/spark/import/{import_id}")).json()

    assert done["status"] == "completed"
    assert pushes_by_batch(stub) == {0: 1, 1: 2, 2: 1, 3: 2, 4: 1}
    assert [batch["status"] for batch in job["batches"]] == ["accepted"] * 5
    assert (job["items_created"], job["items_failed"]) == (5, 0)
    assert [run["outcome"] for run in job["runs"]] == ["partially_completed", "completed"]
    assert job["retries"][0]["from_status"] == "partially_completed"
    assert "2 of 5 batches failed" in job["retries"][0]["error"]


async def test_a_completed_import_cannot_be_retried(client, stub) -> None:
    created = await client.post("/spark/import", json=import_document(2))
    import_id = created.json()["import_id"]
    await wait_until_finished(client, f"/spark/import/{import_id}/status")

    retry = await client.post(f"/spark/import/{import_id}/retry")
    missing = await client.post("/spark/import/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/retry")

    assert retry.status_code == 409 and "completed" in retry.json()["detail"]
    assert missing.status_code == 404
    assert len(stub.state.received) == 2


async def test_an_import_failed_on_every_batch_is_sent_again_whole(client, stub) -> None:
    stub.state.faults.extend([{"status": 400}, {"status": 400}])
    import_id = (await client.post("/spark/import", json=import_document(2))).json()["import_id"]
    assert (await wait_until_finished(client, f"/spark/import/{import_id}/status"))["status"] == "failed"

    assert (await client.post(f"/spark/import/{import_id}/retry")).status_code == 202
    done = await wait_until_finished(client, f"/spark/import/{import_id}/status")

    assert done["status"] == "completed"
    assert pushes_by_batch(stub) == {0: 2, 1: 2}
