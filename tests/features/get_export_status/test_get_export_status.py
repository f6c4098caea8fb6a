"""`GET /spark/{id}/status`: exactly the fields of SPEC §3."""

from __future__ import annotations

from tests.support import wait_until_finished, work_order


async def test_status_has_the_spec_fields(client) -> None:
    response = await client.post("/spark", json=work_order(["json"]))
    body = (await client.get(response.json()["links"]["status"])).json()

    assert set(body) == {
        "spark_id",
        "status",
        "priority",
        "progress",
        "attempts",
        "created_at",
        "started_at",
        "completed_at",
        "error",
    }
    assert body["status"] in ("pending", "processing", "failed")
    finished = await wait_until_finished(client, response.json()["links"]["status"])
    assert finished["status"] == "failed"  # the test catalog is empty
    assert finished["attempts"] == 1 and finished["completed_at"] is not None


async def test_unknown_id_is_404(client) -> None:
    response = await client.get("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/status")
    assert response.status_code == 404
