"""`GET /spark/import/{id}`: the job with its asset, counts and per-batch results."""

from __future__ import annotations

import httpx
import pytest
import respx

from shared.fabric import INSIGHTS_PATH
from tests.features.create_import.support import finished_import, import_document


@pytest.fixture
def settings(make_settings):
    return make_settings(fabric_api_url="https://fabric.example", fabric_import_batch_size=2)


@respx.mock
async def test_the_job_shows_every_batch(client) -> None:
    respx.post("https://fabric.example" + INSIGHTS_PATH).mock(return_value=httpx.Response(200))
    import_id = await finished_import(client, import_document(5, import_job_name="First pass", tag="llm"))
    job = (await client.get(f"/spark/import/{import_id}")).json()

    assert (job["import_job_name"], job["tag"]) == ("First pass", "llm")
    assert job["asset"] == {"repo_guid": "demo-repo", "fullPath": "/demo/show/interview.mov"}
    assert [batch["items"] for batch in job["batches"]] == [2, 2, 1]
    assert all(batch["status"] == "accepted" and batch["http_status"] == 200 for batch in job["batches"])
    assert "highlights" not in job


async def test_unknown_and_malformed_ids_are_404(client) -> None:
    assert (await client.get("/spark/import/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11")).status_code == 404
    malformed = await client.get("/spark/import/12345")
    assert malformed.status_code == 404
    assert malformed.headers["content-type"].startswith("application/problem+json")
