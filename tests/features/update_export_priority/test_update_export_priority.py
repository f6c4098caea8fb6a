"""`PATCH /spark/{id}`: a pending export's priority changes, and with it its place in the queue."""

from __future__ import annotations

from datetime import timedelta

from shared.jobs import jobs
from shared.queue_control import read_jumps
from tests.support import wait_until_finished, work_order

UNKNOWN = "6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11"


async def pending_export(app, client, **overrides) -> str:
    app.state.runner._stopping = True  # nothing will claim it
    response = await client.post("/spark", json=work_order(["json"], **overrides))
    assert response.status_code == 202, response.text
    return response.json()["spark_id"]


async def test_raising_a_pending_export_moves_it_up_and_tells_the_replicas(app, client) -> None:
    spark_id = await pending_export(app, client, priority="low")
    database = app.state.database
    before = await jobs(database).find_one({"_id": spark_id})
    jumps = await read_jumps(database, "export")

    response = await client.patch(f"/spark/{spark_id}", json={"priority": "high"})
    after = await jobs(database).find_one({"_id": spark_id})

    assert response.status_code == 200, response.text
    assert response.json() == {"spark_id": spark_id, "status": "pending", "priority": "high"}
    aging = timedelta(seconds=app.state.settings.priority_aging_seconds)
    assert before["queue_key"] == before["created_at"] + 2 * aging
    assert after["queue_key"] == after["created_at"]  # high from the moment it was created
    assert await read_jumps(database, "export") == jumps + 1
    for view in (f"/spark/{spark_id}", f"/spark/{spark_id}/status"):
        assert (await client.get(view)).json()["priority"] == "high"
    listed = (await client.get("/spark", params={"repo_guid": "demo-repo"})).json()["jobs"]
    assert [job["priority"] for job in listed] == ["high"]


async def test_lowering_tells_nobody(app, client) -> None:
    spark_id = await pending_export(app, client, priority="high")
    jumps = await read_jumps(app.state.database, "export")
    response = await client.patch(f"/spark/{spark_id}", json={"priority": "low"})

    assert response.status_code == 200 and response.json()["priority"] == "low"
    assert await read_jumps(app.state.database, "export") == jumps


async def test_a_job_that_left_pending_is_409(client) -> None:
    response = await client.post("/spark", json=work_order(["json"]))
    finished = await wait_until_finished(client, response.json()["links"]["status"])
    patch = await client.patch(f"/spark/{response.json()['spark_id']}", json={"priority": "high"})

    assert patch.status_code == 409
    assert patch.headers["content-type"].startswith("application/problem+json")
    assert f"is {finished['status']}" in patch.json()["detail"]


async def test_a_running_job_is_409(app, client) -> None:
    spark_id = await pending_export(app, client)
    await jobs(app.state.database).update_one({"_id": spark_id}, {"$set": {"status": "processing"}})
    patch = await client.patch(f"/spark/{spark_id}", json={"priority": "high"})

    assert patch.status_code == 409 and "processing" in patch.json()["detail"]


async def test_bad_values_are_422_naming_the_field(app, client) -> None:
    spark_id = await pending_export(app, client)
    for body, pointer in (({"priority": "urgent"}, "/priority"), ({}, "/priority"), ({"colour": "red"}, "/colour")):
        patch = await client.patch(f"/spark/{spark_id}", json=body)
        assert patch.status_code == 422, body
        assert pointer in [error["pointer"] for error in patch.json()["errors"]], patch.json()
    stored = await jobs(app.state.database).find_one({"_id": spark_id})
    assert stored["priority"] == "normal"


async def test_unknown_job_is_404(client) -> None:
    assert (await client.patch(f"/spark/{UNKNOWN}", json={"priority": "high"})).status_code == 404


async def test_a_work_order_with_a_bad_priority_is_422(client) -> None:
    response = await client.post("/spark", json=work_order(["json"], priority="asap"))
    assert response.status_code == 422
    assert "/priority" in [error["pointer"] for error in response.json()["errors"]]
