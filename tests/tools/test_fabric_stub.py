"""The Fabric insight-API stub: what it records, how its planned faults are consumed, its control API."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tools.fabric_stub import (
    INSIGHTS_PATH,
    StubConfig,
    config_from,
    create_stub_app,
    parse_args,
    serve_in_thread,
)

KEY = "s3cret-fabric-key-value"
BODY = {
    "repoGuid": "demo-repo",
    "fullPath": "/demo/interview.mov",
    "fileName": "interview.mov",
    "insightEvents": [
        {
            "insight": 'a, "quoted"\nline',
            "start": 1.0,
            "end": 2.5,
            "confidenceScore": 90,
            "eventMeta": {"associatedEventIds": ["abc"]},
        },
        {"insight": "שלום 👋", "start": 3.0, "end": 4.0, "confidenceScore": None, "eventMeta": None},
    ],
    "tag": "llm",
}


def _client(config: StubConfig | None = None) -> httpx.AsyncClient:
    app = create_stub_app(config or StubConfig(api_key=KEY))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fabric-stub")


@pytest.fixture
async def stub() -> AsyncIterator[httpx.AsyncClient]:
    async with _client() as client:
        yield client


async def _push(
    client: httpx.AsyncClient, body: object = BODY, key: str | None = KEY, batch: int = 0
) -> httpx.Response:
    headers = {"Idempotency-Key": f"import-1:{batch}"}
    if key is not None:
        headers["apiKey"] = key
    return await client.post(INSIGHTS_PATH, json=body, headers=headers)


async def _received(client: httpx.AsyncClient) -> list[dict]:
    response = await client.get("/_stub/received")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("path", ["/", "/health"])
async def test_health_answers_ok(stub: httpx.AsyncClient, path: str) -> None:
    response = await stub.get(path)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_push_is_recorded_with_the_key_masked(stub: httpx.AsyncClient) -> None:
    response = await _push(stub, batch=3)

    assert (response.status_code, response.json()) == (200, {"ok": True, "created": 2})
    [call] = await _received(stub)
    assert call["body"] == BODY
    assert call["idempotency_key"] == "import-1:3"
    assert call["headers"]["apikey"] == "***"
    assert call["api_key_ok"] is True
    assert call["api_key_present"] is True
    assert call["status"] == 200
    assert call["path"] == INSIGHTS_PATH
    assert call["time"].endswith("Z")
    assert KEY not in (await stub.get("/_stub/received")).text


@pytest.mark.parametrize("key", ["wrong-key", None])
async def test_wrong_or_missing_key_is_401_and_recorded(stub: httpx.AsyncClient, key: str | None) -> None:
    response = await _push(stub, key=key)

    assert response.status_code == 401
    assert response.json()["ok"] is False
    [call] = await _received(stub)
    assert (call["status"], call["api_key_ok"], call["api_key_present"]) == (401, False, key is not None)
    if key is not None:
        assert call["headers"]["apikey"] == "***"
        assert key not in json.dumps(call)


async def test_a_non_ascii_key_is_a_401_not_a_crash(stub: httpx.AsyncClient) -> None:
    response = await stub.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": b"caf\xe9-key"})

    assert response.status_code == 401


async def test_without_a_configured_key_any_caller_is_accepted() -> None:
    async with _client(StubConfig()) as client:
        assert (await _push(client, key=None)).status_code == 200
        assert (await _push(client, key="anything")).status_code == 200
        calls = await _received(client)
    assert [call["api_key_ok"] for call in calls] == [True, True]
    assert [call["api_key_present"] for call in calls] == [False, True]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([1, 2], "body must be a JSON object"),
        ({**BODY, "insightEvents": "nope"}, "insightEvents must be a list"),
        ({**BODY, "insightEvents": ["nope"]}, "every insightEvents item must be an object"),
        ({k: v for k, v in BODY.items() if k != "repoGuid"}, "repoGuid must be a non-empty string"),
        ({**BODY, "fileName": "other.mov"}, "fileName must be the basename of fullPath"),
    ],
)
async def test_bad_body_is_400_with_a_json_error(stub: httpx.AsyncClient, body: object, problem: str) -> None:
    response = await _push(stub, body=body)

    assert response.status_code == 400
    assert problem in response.json()["problems"]
    [call] = await _received(stub)
    assert (call["status"], call["body"]) == (400, body)


async def test_body_that_is_not_json_is_400_and_kept_as_text(stub: httpx.AsyncClient) -> None:
    response = await stub.post(INSIGHTS_PATH, content=b"{not json", headers={"apiKey": KEY})

    assert response.status_code == 400
    [call] = await _received(stub)
    assert (call["body"], call["body_text"]) == (None, "{not json")


async def test_planned_answers_are_consumed_in_order(stub: httpx.AsyncClient) -> None:
    plan = [{"status": 500}, {"status": 429, "retry_after": 2}, {"status": 400, "body": "bad insight at index 7"}]
    assert (await stub.post("/_stub/faults", json=plan)).json()["queued"] == plan

    first, second, third, fourth = [await _push(stub, batch=n) for n in range(4)]

    assert first.status_code == 500
    assert (second.status_code, second.headers["Retry-After"]) == (429, "2")
    assert (third.status_code, third.text) == (400, "bad insight at index 7")
    assert (fourth.status_code, fourth.json()) == (200, {"ok": True, "created": 2})
    calls = await _received(stub)
    assert [call["status"] for call in calls] == [500, 429, 400, 200]
    assert [call["idempotency_key"] for call in calls] == [f"import-1:{n}" for n in range(4)]
    assert [call["fault"] for call in calls] == [*plan, None]
    assert (await stub.get("/_stub/faults")).json()["queued"] == []


async def test_a_single_planned_answer_can_be_posted_as_an_object(stub: httpx.AsyncClient) -> None:
    await stub.post("/_stub/faults", json={"status": 503, "retry_after": "Wed, 21 Oct 2026 07:28:00 GMT"})

    response = await _push(stub)

    assert (response.status_code, response.headers["Retry-After"]) == (503, "Wed, 21 Oct 2026 07:28:00 GMT")
    assert (await _push(stub)).status_code == 200


async def test_a_planned_answer_wins_over_a_wrong_key(stub: httpx.AsyncClient) -> None:
    # Faults are consumed one per push, whatever the push: an overloaded server fails before it authenticates.
    await stub.post("/_stub/faults", json=[{"status": 502}])

    assert (await _push(stub, key="wrong")).status_code == 502
    assert (await _push(stub, key="wrong")).status_code == 401


async def test_latency_delays_every_push_until_faults_are_cleared(stub: httpx.AsyncClient) -> None:
    await stub.post("/_stub/faults", json={"latency_ms": 150})

    for _ in range(2):
        began = time.monotonic()
        assert (await _push(stub)).status_code == 200
        assert time.monotonic() - began >= 0.15

    cleared = await stub.delete("/_stub/faults")
    assert cleared.json() == {"queued": [], "latency_ms": 0}
    began = time.monotonic()
    await _push(stub)
    assert time.monotonic() - began < 0.15


async def test_hang_waits_then_answers_normally(stub: httpx.AsyncClient) -> None:
    await stub.post("/_stub/faults", json=[{"hang_seconds": 0.3}])

    began = time.monotonic()
    response = await _push(stub)

    assert response.status_code == 200
    assert time.monotonic() - began >= 0.3
    [call] = await _received(stub)
    assert call["fault"] == {"hang_seconds": 0.3}
    assert call["duration_ms"] >= 300


async def test_fail_times_shorthand(stub: httpx.AsyncClient) -> None:
    await stub.post("/_stub/faults", json={"fail_times": 2, "fail_status": 429, "retry_after": 1})

    statuses = [(await _push(stub)).status_code for _ in range(3)]

    assert statuses == [429, 429, 200]


@pytest.mark.parametrize(
    "payload",
    [
        [{"status": 500}, {"stauts": 500}],  # a typo must not silently become a success
        [{"status": 700}],
        [{"hang_seconds": -1}],
        {"latency_ms": -5},
        {"latency_ms": 10, "bogus": 1},
        "500",
    ],
)
async def test_bad_fault_requests_are_400_and_change_nothing(stub: httpx.AsyncClient, payload: object) -> None:
    response = await stub.post("/_stub/faults", json=payload)

    assert response.status_code == 400
    assert (await stub.get("/_stub/faults")).json() == {"queued": [], "latency_ms": 0}


async def test_reset_clears_calls_faults_and_latency(stub: httpx.AsyncClient) -> None:
    await _push(stub)
    await stub.post("/_stub/faults", json=[{"status": 500}])
    await stub.post("/_stub/faults", json={"latency_ms": 50})

    response = await stub.delete("/_stub/received")

    assert response.json() == {"ok": True, "queued": [], "latency_ms": 0}
    assert await _received(stub) == []
    assert (await _push(stub)).status_code == 200


async def test_start_up_faults_from_config_are_rearmed_by_reset() -> None:
    config = StubConfig(api_key=KEY, fail_times=2, fail_status=503, retry_after=1.5, latency_ms=10)
    async with _client(config) as client:
        first = await _push(client)
        assert (first.status_code, first.headers["Retry-After"]) == (503, "1.5")
        assert [(await _push(client)).status_code for _ in range(2)] == [503, 200]

        await client.delete("/_stub/received")

        assert (await client.get("/_stub/faults")).json()["latency_ms"] == 10
        assert [(await _push(client)).status_code for _ in range(3)] == [503, 503, 200]


def test_config_from_environment_and_flags() -> None:
    environ = {
        "STUB_API_KEY": KEY,
        "STUB_LATENCY_MS": "250",
        "STUB_FAIL_TIMES": "3",
        "STUB_FAIL_STATUS": "429",
        "STUB_RETRY_AFTER": "2",
    }
    assert StubConfig.from_env(environ) == StubConfig(
        api_key=KEY, latency_ms=250, fail_times=3, fail_status=429, retry_after=2.0
    )
    assert StubConfig.from_env({}) == StubConfig()

    flags = config_from(parse_args(["--port", "9999", "--fail-times", "1", "--latency-ms", "0"]), environ)
    assert (flags.fail_times, flags.latency_ms, flags.fail_status, flags.api_key) == (1, 0, 429, KEY)


def test_config_repr_hides_the_key() -> None:
    assert KEY not in repr(StubConfig(api_key=KEY))
    assert KEY not in str(StubConfig(api_key=KEY))


async def test_one_log_line_per_call_without_the_key(stub: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tools.fabric_stub")
    await stub.post("/_stub/faults", json=[{"status": 500}])

    await _push(stub, batch=0)
    await _push(stub, key="wrong-key-value", batch=1)
    await _push(stub, batch=2)

    lines = [record.getMessage() for record in caplog.records if record.name == "tools.fabric_stub"]
    assert len(lines) == 3
    assert "status=500" in lines[0]
    assert "status=401" in lines[1]
    assert "status=200" in lines[2]
    assert "idempotency_key=import-1:2" in lines[2]
    assert KEY not in caplog.text
    assert "wrong-key-value" not in caplog.text


def test_real_server_records_a_client_that_gave_up() -> None:
    with serve_in_thread(StubConfig(api_key=KEY)) as running, httpx.Client(base_url=running.url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        client.post("/_stub/faults", json=[{"hang_seconds": 30}])

        with pytest.raises(httpx.ReadTimeout):
            client.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY}, timeout=0.3)
        assert client.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY}).status_code == 200

        deadline = time.monotonic() + 5
        while running.state.received[0]["status"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        statuses = [call["status"] for call in client.get("/_stub/received").json()]

    assert statuses == [499, 200]


async def test_start_up_planned_answers_come_after_the_fail_times_shorthand() -> None:
    config = StubConfig(fail_times=1, fail_status=500, faults=({"status": 408}, {"hang_seconds": 0.01}))
    async with _client(config) as client:
        statuses = [(await _push(client, key=None)).status_code for _ in range(4)]
    assert statuses == [500, 408, 200, 200]


async def test_an_idempotency_key_is_accepted_once_and_replays_are_counted(stub: httpx.AsyncClient) -> None:
    first = await stub.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY, "Idempotency-Key": "imp:0"})
    replay = await stub.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY, "Idempotency-Key": "imp:0"})
    other = await stub.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY, "Idempotency-Key": "imp:1"})
    stats = (await stub.get("/_stub/stats")).json()

    assert first.json() == {"ok": True, "created": 2}
    assert replay.status_code == 200 and replay.json() == {"ok": True, "created": 2, "replayed": True}
    assert other.json() == {"ok": True, "created": 2}
    assert stats == {"received": 3, "accepted": 2, "duplicates": 1}
    await stub.delete("/_stub/received")
    assert (await stub.get("/_stub/stats")).json() == {"received": 0, "accepted": 0, "duplicates": 0}


async def test_a_refused_push_does_not_use_up_its_key(stub: httpx.AsyncClient) -> None:
    await stub.post("/_stub/faults", json={"status": 503})
    refused = await stub.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY, "Idempotency-Key": "imp:0"})
    accepted = await stub.post(INSIGHTS_PATH, json=BODY, headers={"apiKey": KEY, "Idempotency-Key": "imp:0"})

    assert refused.status_code == 503 and accepted.json() == {"ok": True, "created": 2}
    assert (await stub.get("/_stub/stats")).json()["duplicates"] == 0
