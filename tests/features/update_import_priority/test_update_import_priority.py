"""`PATCH /spark/import/{id}`: a pending import's priority changes; 409 once it runs."""

from __future__ import annotations

from datetime import timedelta

from shared.jobs import jobs
from tests.features.create_import.support import import_document

UNKNOWN = "6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11"


async def pending_import(app, client, **overrides) -> str:
    app.state.runner._stopping = True  # nothing will claim it
    response = await client.post("/spark/import", json=import_document(2, **overrides))
    assert response.status_code == 202, response.text
    return response.json()["import_id"]


async def test_a_pending_import_changes_priority_and_every_view_shows_it(app, client) -> None:
    import_id = await pending_import(app, client)
    response = await client.patch(f"/spark/import/{import_id}", json={"priority": "low"})
    stored = await jobs(app.state.database).find_one({"_id": import_id})

    assert response.status_code == 200, response.text
    assert response.json() == {"import_id": import_id, "status": "pending", "priority": "low"}
    aging = timedelta(seconds=app.state.settings.priority_aging_seconds)
    assert stored["queue_key"] == stored["created_at"] + 2 * aging
    for view in (f"/spark/import/{import_id}", f"/spark/import/{import_id}/status"):
        assert (await client.get(view)).json()["priority"] == "low"
    listed = (await client.get("/spark/import", params={"repo_guid": "demo-repo"})).json()["jobs"]
    assert [job["priority"] for job in listed] == ["low"]


async def test_an_import_submitted_high_is_high(app, client) -> None:
    import_id = await pending_import(app, client, priority="high")
    stored = await jobs(app.state.database).find_one({"_id": import_id})

    assert stored["priority"] == "high" and stored["queue_key"] == stored["created_at"]


async def test_a_running_import_is_409(app, client) -> None:
    import_id = await pending_import(app, client)
    await jobs(app.state.database).update_one({"_id": import_id}, {"$set": {"status": "processing"}})
    patch = await client.patch(f"/spark/import/{import_id}", json={"priority": "high"})

    assert patch.status_code == 409
    assert patch.headers["content-type"].startswith("application/problem+json")


async def test_a_bad_priority_is_422_and_changes_nothing(app, client) -> None:
    import_id = await pending_import(app, client)
    patch = await client.patch(f"/spark/import/{import_id}", json={"priority": 3})
    stored = await jobs(app.state.database).find_one({"_id": import_id})

    assert patch.status_code == 422 and patch.json()["errors"][0]["pointer"] == "/priority"
    assert stored["priority"] == "normal"


async def test_unknown_import_is_404(client) -> None:
    assert (await client.patch(f"/spark/import/{UNKNOWN}", json={"priority": "high"})).status_code == 404
