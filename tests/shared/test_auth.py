"""API keys: 401 problem+json without or with a wrong key, /health open, keys never logged."""

from __future__ import annotations

import logging

import httpx
import pytest

from shared.auth import key_matches

KEYS = ["first-key-0123456789", "second-key-abcdef"]


@pytest.fixture
def settings(make_settings):
    return make_settings(api_keys=",".join(KEYS))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/spark?repo_guid=r"),
        ("POST", "/spark"),
        ("GET", "/spark/import?repo_guid=r"),
        ("POST", "/spark/import"),
        ("GET", "/metrics"),
        ("GET", "/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11"),
        ("GET", "/no/such/route"),
    ],
)
async def test_requests_without_a_valid_key_get_401(client: httpx.AsyncClient, method, path) -> None:
    missing = await client.request(method, path, json={})
    wrong = await client.request(method, path, json={}, headers={"X-API-Key": "first-key-012345678X"})

    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 401
    assert "missing" in missing.json()["detail"] and "not valid" in wrong.json()["detail"]


async def test_every_configured_key_works(client: httpx.AsyncClient) -> None:
    for key in KEYS:
        response = await client.get("/spark", params={"repo_guid": "r"}, headers={"X-API-Key": key})
        assert response.status_code == 200


async def test_health_and_docs_are_open(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_keys_are_never_logged(client: httpx.AsyncClient, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        await client.get("/spark", params={"repo_guid": "r"}, headers={"X-API-Key": KEYS[0]})
        await client.get("/spark", params={"repo_guid": "r"}, headers={"X-API-Key": "guess-" + KEYS[1]})
    assert caplog.records
    for key in KEYS:
        assert key not in caplog.text


def test_comparison_checks_every_key() -> None:
    keys = [key.encode() for key in KEYS]
    assert key_matches(b"second-key-abcdef", keys)
    assert not key_matches(b"second-key-abcdeg", keys)
    assert not key_matches(b"", keys)


async def test_the_openapi_schema_describes_the_key(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "one of the keys in API_KEYS (or, for GET and HEAD only, API_READ_KEYS)",
    }
    assert schema["paths"]["/spark"]["post"]["security"] == [{"ApiKey": []}]
    assert schema["paths"]["/health"]["get"]["security"] == []
    # What a read key gets on an action, and only there.
    assert schema["paths"]["/jobs/retry"]["post"]["responses"]["403"]["content"]["application/problem+json"]
    assert "403" not in schema["paths"]["/jobs"]["get"]["responses"]
