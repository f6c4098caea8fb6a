"""`POST /spark/{id}/retry`: a failed or cancelled export runs again as a new round, history kept."""

from __future__ import annotations

from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset


async def test_a_failed_export_is_retried_with_a_fresh_budget_and_its_history(client, catalog, settings) -> None:
    first = await client.post("/spark", json=work_order(["json"]))  # the catalog is empty: it fails
    spark_id = first.json()["spark_id"]
    failed = await wait_until_finished(client, f"/spark/{spark_id}/status")
    assert failed["status"] == "failed" and "no events" in failed["error"]

    await load_demo_asset(catalog)
    retry = await client.post(f"/spark/{spark_id}/retry")
    assert retry.status_code == 202, retry.text
    assert retry.json()["retries"] == 1 and retry.json()["status"] in ("pending", "processing", "completed")
    done = await wait_until_finished(client, f"/spark/{spark_id}/status")
    job = (await client.get(f"/spark/{spark_id}")).json()

    assert done["status"] == "completed" and done["attempts"] == 1, done
    assert (settings.export_base_path / spark_id / "manifest.json").is_file()
    first_run, second_run = job["runs"]
    assert (first_run["attempt"], first_run["retry"], first_run["outcome"]) == (1, 0, "failed")
    assert "no events" in first_run["error"]
    assert (second_run["attempt"], second_run["retry"], second_run["outcome"]) == (1, 1, "completed")
    assert second_run["error"] is None
    assert [(r["from_status"], "no events" in r["error"]) for r in job["retries"]] == [("failed", True)]


async def test_a_cancelled_export_can_be_retried(app, client, catalog) -> None:
    await load_demo_asset(catalog)
    app.state.runner._stopping = True  # nothing claims it: it is cancelled while pending
    spark_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    assert (await client.post(f"/spark/{spark_id}/cancel")).json()["status"] == "cancelled"

    retry = await client.post(f"/spark/{spark_id}/retry")
    job = (await client.get(f"/spark/{spark_id}")).json()

    assert retry.status_code == 202 and retry.json()["status"] == "pending"
    assert job["status"] == "pending" and job["error"] is None and job["attempts"] == 0
    assert job["retries"][0]["from_status"] == "cancelled"


async def test_only_failed_or_cancelled_exports_can_be_retried(app, client, catalog) -> None:
    await load_demo_asset(catalog)
    spark_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    await wait_until_finished(client, f"/spark/{spark_id}/status")

    completed = await client.post(f"/spark/{spark_id}/retry")
    app.state.runner._stopping = True
    pending_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    pending = await client.post(f"/spark/{pending_id}/retry")
    unknown = await client.post("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/retry")

    assert completed.status_code == 409 and "completed" in completed.json()["detail"]
    assert completed.headers["content-type"].startswith("application/problem+json")
    assert pending.status_code == 409 and "pending" in pending.json()["detail"]
    assert unknown.status_code == 404
    assert (await client.get(f"/spark/{spark_id}")).json()["retries"] == []


async def test_two_retries_of_one_job_requeue_it_once(app, client) -> None:
    spark_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    await wait_until_finished(client, f"/spark/{spark_id}/status")
    app.state.runner._stopping = True  # the retried job stays pending

    answers = [await client.post(f"/spark/{spark_id}/retry") for _ in range(2)]

    assert [answer.status_code for answer in answers] == [202, 409]
    assert len((await client.get(f"/spark/{spark_id}")).json()["retries"]) == 1


async def test_a_retried_export_queues_behind_jobs_queued_before_its_retry(app, client, settings) -> None:
    failed_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    await wait_until_finished(client, f"/spark/{failed_id}/status")  # the catalog is empty: it fails
    app.state.runner._stopping = True  # nothing is claimed from here on: only the queue order is looked at
    waiting_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]

    assert (await client.post(f"/spark/{failed_id}/retry")).status_code == 202

    collection = app.state.database.collection("jobs")
    keys = {job["_id"]: job["queue_key"] async for job in collection.find({"_id": {"$in": [failed_id, waiting_id]}})}
    # Created first, but queued again after the other job was queued: its old place would jump it.
    assert keys[waiting_id] < keys[failed_id]


async def test_a_priority_change_after_a_retry_keeps_the_place_the_retry_gave(app, client) -> None:
    failed_id = (await client.post("/spark", json=work_order(["json"]))).json()["spark_id"]
    await wait_until_finished(client, f"/spark/{failed_id}/status")  # the catalog is empty: it fails
    app.state.runner._stopping = True
    waiting_id = (await client.post("/spark", json={**work_order(["json"]), "priority": "low"})).json()["spark_id"]
    assert (await client.post(f"/spark/{failed_id}/retry")).status_code == 202

    changed = await client.patch(f"/spark/{failed_id}", json={"priority": "low"})

    assert changed.status_code == 200, changed.text
    collection = app.state.database.collection("jobs")
    keys = {job["_id"]: job["queue_key"] async for job in collection.find({"_id": {"$in": [failed_id, waiting_id]}})}
    # Both low now; the retried one queued again after the other was queued, so it stays behind it.
    assert keys[waiting_id] < keys[failed_id]
