"""Logs are JSON lines with a request id; one access line per request."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from shared.logging import configure_logging


@pytest.fixture
def log_lines():
    """Capture what the JSON handler writes, as parsed objects."""
    configure_logging("INFO")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    handler.setStream(previous)


async def test_request_id_is_taken_echoed_and_logged(client: httpx.AsyncClient, log_lines) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})

    assert response.headers["x-request-id"] == "abc-123"
    access = [line for line in log_lines() if line["logger"] == "ai_spark.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "abc-123"
    assert line["method"] == "GET"
    assert line["path"] == "/health"
    assert line["status"] == 200
    assert line["duration_ms"] >= 0
    assert {"timestamp", "level", "message"} <= set(line)


async def test_a_request_id_is_generated_when_missing_or_unsafe(client: httpx.AsyncClient) -> None:
    plain = await client.get("/health")
    unsafe = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})

    assert len(plain.headers["x-request-id"]) == 32
    assert unsafe.headers["x-request-id"] != "bad id\twith spaces"
