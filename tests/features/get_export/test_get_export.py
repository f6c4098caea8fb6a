"""`GET /spark/{id}`: the job with its work order and manifest; 404 for unknown or malformed ids."""

from __future__ import annotations

from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset


async def test_the_job_carries_its_work_order_and_manifest(client, catalog) -> None:
    await load_demo_asset(catalog)
    order = work_order(["json"])
    response = await client.post("/spark", json=order)
    await wait_until_finished(client, response.json()["links"]["status"])

    job = (await client.get(response.headers["location"])).json()

    assert job["spark_id"] == response.json()["spark_id"]
    assert job["status"] == "completed"
    assert job["work_order"]["inputs"]["full_path"] == order["inputs"]["full_path"]
    assert job["work_order"]["outputs"]["events"]["formats"] == ["json"]
    assert job["manifest"]["spark_id"] == job["spark_id"]
    assert job["manifest"]["repo_guid"] == "demo-repo"
    assert len(job["runs"]) == 1 and job["runs"][0]["outcome"] == "completed"
    assert job["created_at"].endswith("Z")
    assert job["progress"] == {"percent": 100, "step": "completed"}


async def test_unknown_and_malformed_ids_are_404_problems(client) -> None:
    unknown = await client.get("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11")
    malformed = await client.get("/spark/12345")

    for response in (unknown, malformed):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
