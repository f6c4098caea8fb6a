"""MAX_REQUEST_BYTES: 413 problem+json for JSON and multipart bodies, declared or streamed."""

from __future__ import annotations

import json

import httpx
import pytest

LIMIT = 4096


@pytest.fixture
def settings(make_settings):
    return make_settings(max_request_bytes=LIMIT)


def big_import(size: int) -> dict:
    return {
        "schemaVersion": "sdna.spark.import.v1",
        "asset": {"repo_guid": "r", "fullPath": "/a.mov"},
        "highlights": [{"comment": "x" * size, "start": 0, "end": 1}],
    }


async def stored(client) -> int:
    return (await client.get("/spark/import", params={"repo_guid": "r"})).json()["total"]


async def test_a_json_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/spark/import", json=big_import(LIMIT))

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "MAX_REQUEST_BYTES" in response.json()["detail"]
    assert await stored(client) == 0


async def test_a_file_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    raw = json.dumps(big_import(LIMIT)).encode()
    response = await client.post("/spark/import/file", files={"file": ("doc.json", raw)})

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await stored(client) == 0


async def test_a_streamed_body_without_length_is_stopped_at_the_limit(client: httpx.AsyncClient) -> None:
    sent = {"bytes": 0}

    async def chunks():
        for _ in range(100):
            sent["bytes"] += 1024
            yield b" " * 1024

    response = await client.post("/spark/import", content=chunks(), headers={"content-type": "application/json"})

    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await stored(client) == 0


async def test_a_body_under_the_limit_passes(client: httpx.AsyncClient) -> None:
    response = await client.post("/spark/import", json=big_import(100))
    assert response.status_code == 202
