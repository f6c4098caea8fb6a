"""An import run end to end against respx, shared by the import slices' tests."""

from __future__ import annotations

import httpx

from tests.support import wait_until_finished


def import_document(count: int, **overrides) -> dict:
    highlights = [{"comment": f"highlight {n}", "start": n * 2.0, "end": n * 2.0 + 1.5} for n in range(count)]
    return {
        "schemaVersion": "sdna.spark.import.v1",
        "asset": {"repo_guid": "demo-repo", "fullPath": "/demo/show/interview.mov"},
        "highlights": highlights,
        **overrides,
    }


async def finished_import(client: httpx.AsyncClient, body: dict) -> str:
    response = await client.post("/spark/import", json=body)
    assert response.status_code == 202, response.text
    await wait_until_finished(client, response.json()["links"]["status"])
    return response.json()["import_id"]
