"""Every error leaves as RFC 9457 problem+json: unknown routes, wrong methods, validation, crashes."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from shared.problems import pointer_from_location

PROBLEM = "application/problem+json"


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/route")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert "/no/such/route" in body["detail"]


async def test_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/health")

    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 405
    assert "DELETE" in response.json()["detail"]


class _Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int


def _router_with_failures() -> APIRouter:
    router = APIRouter()

    @router.post("/_test/orders")
    async def create(order: _Order) -> dict:
        return {"ok": order.name}

    @router.get("/_test/crash")
    async def crash() -> dict:
        raise RuntimeError("database password is hunter2")

    return router


@pytest.fixture
async def failing_client(app_factory, settings):
    app = await app_factory(settings)
    app.include_router(_router_with_failures())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        yield http


async def test_validation_lists_every_problem_with_a_pointer(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.post("/_test/orders", json={"count": "many", "colour": "red"})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    pointers = {error["pointer"]: error["message"] for error in response.json()["errors"]}
    assert set(pointers) == {"/name", "/count", "/colour"}
    assert pointers["/colour"] == "unknown field"


async def test_malformed_json_is_a_422_problem(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.post(
        "/_test/orders", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["errors"][0]["message"]


async def test_a_crash_is_a_500_problem_without_internals(
    failing_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await failing_client.get("/_test/crash")

    assert response.status_code == 500
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert any(record.exc_info for record in caplog.records), "the traceback belongs in the log"


@pytest.mark.parametrize(
    ("location", "pointer"),
    [
        (("body", "outputs", "events", "formats", 0), "/outputs/events/formats/0"),
        (("body", "a/b", "c~d"), "/a~1b/c~0d"),
        (("body",), ""),
    ],
)
def test_pointers_follow_rfc_6901(location: tuple, pointer: str) -> None:
    assert pointer_from_location(location) == pointer


async def test_a_body_that_is_not_utf8_is_a_422_problem(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.post(
        "/_test/orders", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["errors"][0]["pointer"] == ""


async def test_a_json_syntax_error_points_at_the_body(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.post(
        "/_test/orders", content=b'{"name": "a",}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == ""


async def test_broken_multipart_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/spark/import/file",
        content=b"--B\r\nTrue--B--\r\n",
        headers={"content-type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
