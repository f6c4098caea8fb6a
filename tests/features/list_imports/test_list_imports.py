"""`GET /spark/import?repo_guid=`: one repository's imports, newest first, filtered by status."""

from __future__ import annotations

import httpx
import pytest
import respx

from shared.fabric import INSIGHTS_PATH
from tests.features.create_import.support import finished_import, import_document


@pytest.fixture
def settings(make_settings):
    return make_settings(fabric_api_url="https://fabric.example")


@respx.mock
async def test_newest_first_by_repository_and_status(client) -> None:
    respx.post("https://fabric.example" + INSIGHTS_PATH).mock(return_value=httpx.Response(200))
    first = await finished_import(client, import_document(1))
    second = await finished_import(client, import_document(2))
    other = import_document(1)
    other["asset"]["repo_guid"] = "other-repo"
    await finished_import(client, other)

    listing = (await client.get("/spark/import", params={"repo_guid": "demo-repo"})).json()
    assert [job["import_id"] for job in listing["jobs"]] == [second, first]
    assert listing["total"] == 2 and listing["jobs"][0]["items_total"] == 2
    failed = (await client.get("/spark/import", params={"repo_guid": "demo-repo", "status": "failed"})).json()
    assert failed == {"total": 0, "jobs": [], "next_cursor": None}
    page = (await client.get("/spark/import", params={"repo_guid": "demo-repo", "limit": 1})).json()
    rest = (
        await client.get("/spark/import", params={"repo_guid": "demo-repo", "limit": 1, "cursor": page["next_cursor"]})
    ).json()
    assert [job["import_id"] for job in page["jobs"] + rest["jobs"]] == [second, first]


async def test_repo_guid_is_required(client) -> None:
    response = await client.get("/spark/import")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "query:repo_guid"
