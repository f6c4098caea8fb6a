"""`POST /spark/import` end to end: a real database, Fabric's API faked with respx, real timings."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import httpx
import pytest
import respx

from shared.fabric import INSIGHTS_PATH
from tests.support import wait_until_finished
from tools.embedded_mongo import free_port

FABRIC = "https://fabric.example"
PUSH_URL = FABRIC + INSIGHTS_PATH
API_KEY = "fabric-secret-7f3a9c"
EXAMPLE = Path(__file__).resolve().parents[3] / "features" / "create_export" / "import_example.json"


def document(count: int, **overrides) -> dict:
    highlights = [
        {
            "comment": f'highlight {n}, "quoted"',
            "start": n * 2.0,
            "end": n * 2.0 + 1.5,
            "confidenceScore": n % 101,
            "eventMeta": {"associatedEventIds": [f"evt-{n}"]},
        }
        for n in range(count)
    ]
    return {
        "schemaVersion": "sdna.spark.import.v1",
        "asset": {"repo_guid": "demo-repo", "fullPath": "/demo/show/interview.mov"},
        "tag": "llm",
        "highlights": highlights,
        **overrides,
    }


@pytest.fixture
def settings(make_settings):
    return make_settings(fabric_api_url=FABRIC, fabric_api_key=API_KEY, fabric_max_retries=4)


async def run_import(client: httpx.AsyncClient, body: dict, within: float = 60) -> tuple[dict, dict]:
    response = await client.post("/spark/import", json=body)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/spark/import/{response.json()['import_id']}"
    status = await wait_until_finished(client, response.json()["links"]["status"], within=within)
    job = (await client.get(response.headers["location"])).json()
    return status, job


@respx.mock
async def test_highlights_go_out_in_batches_with_the_spec_body_and_headers(client, caplog, capsys) -> None:
    route = respx.post(PUSH_URL).mock(return_value=httpx.Response(200, json={"ok": True}))
    with caplog.at_level(logging.DEBUG):
        status, job = await run_import(client, document(1250))

    assert status["status"] == "completed"
    assert (job["items_total"], job["items_created"], job["items_failed"]) == (1250, 1250, 0)
    assert [batch["items"] for batch in job["batches"]] == [500, 500, 250]
    calls = route.calls
    assert len(calls) == 3
    sent = [json.loads(call.request.content) for call in calls]
    assert [len(body["insightEvents"]) for body in sent] == [500, 500, 250]
    for index, (call, body) in enumerate(zip(calls, sent, strict=True)):
        assert call.request.headers["apiKey"] == API_KEY
        assert call.request.headers["Idempotency-Key"] == f"{job['import_id']}:{index}"
        assert set(body) == {"repoGuid", "fullPath", "fileName", "insightEvents", "tag"}
        assert (body["repoGuid"], body["fullPath"], body["fileName"], body["tag"]) == (
            "demo-repo",
            "/demo/show/interview.mov",
            "interview.mov",
            "llm",
        )
    first = sent[0]["insightEvents"][0]
    assert first == {
        "insight": 'highlight 0, "quoted"',
        "start": 0.0,
        "end": 1.5,
        "confidenceScore": 0,
        "eventMeta": {"associatedEventIds": ["evt-0"]},
    }
    assert [event["insight"] for body in sent for event in body["insightEvents"]] == [
        f'highlight {n}, "quoted"' for n in range(1250)
    ]
    logged = caplog.text + capsys.readouterr().err
    assert logged, "logs were captured"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING], caplog.text
    assert API_KEY not in logged
    assert all(API_KEY not in json.dumps(record.__dict__, default=str) for record in caplog.records)
    assert API_KEY not in json.dumps(job)


@respx.mock
async def test_429_with_retry_after_waits_about_that_long_then_succeeds(client) -> None:
    moments: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        moments.append(time.monotonic())
        return httpx.Response(429, headers={"Retry-After": "2"}) if len(moments) == 1 else httpx.Response(201)

    respx.post(PUSH_URL).mock(side_effect=answer)
    status, job = await run_import(client, document(3))

    assert status["status"] == "completed"
    assert 1.9 <= moments[1] - moments[0] <= 3.5, moments
    assert job["batches"][0]["attempts"] == 2 and job["batches"][0]["http_status"] == 201


@respx.mock
async def test_500_three_times_then_200_completes_with_the_attempts_recorded(client) -> None:
    route = respx.post(PUSH_URL).mock(
        side_effect=[httpx.Response(500), httpx.Response(502), httpx.Response(503), httpx.Response(200)]
    )
    status, job = await run_import(client, document(10))

    assert status["status"] == "completed"
    assert len(route.calls) == 4
    assert job["batches"][0]["attempts"] == 4 and job["batches"][0]["status"] == "accepted"
    assert job["batches"][0]["error"] is None


@respx.mock
async def test_a_rejected_batch_fails_alone_and_the_job_is_partially_completed(client) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        batch = int(request.headers["Idempotency-Key"].rsplit(":", 1)[1])
        if batch == 1:
            return httpx.Response(400, text="insightEvents[3].start is after the end of the media " + "x" * 900)
        return httpx.Response(200)

    respx.post(PUSH_URL).mock(side_effect=answer)
    status, job = await run_import(client, document(1250))

    assert status["status"] == "partially_completed"
    assert [batch["status"] for batch in job["batches"]] == ["accepted", "failed", "accepted"]
    assert (job["items_created"], job["items_failed"]) == (750, 500)
    rejected = job["batches"][1]
    assert rejected["http_status"] == 400 and rejected["attempts"] == 1
    assert "after the end of the media" in rejected["error"]
    assert len(rejected["error"]) <= len("Fabric answered 400: ") + 500
    assert "1 of 3 batches failed" in job["error"]


async def test_connection_refused_throughout_fails_after_the_retries(make_settings, app_factory) -> None:
    app = await app_factory(
        make_settings(
            fabric_api_url=f"http://127.0.0.1:{free_port()}",
            fabric_api_key=API_KEY,
            fabric_max_retries=2,
            max_attempts=1,
        )
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        status, job = await run_import(client, document(700))

    assert status["status"] == "failed"
    assert (job["items_created"], job["items_failed"]) == (0, 700)
    assert all(batch["attempts"] == 3 and batch["status"] == "failed" for batch in job["batches"])
    assert "cannot reach Fabric" in job["error"]
    assert "cannot reach Fabric" in job["batches"][0]["error"]


@respx.mock
async def test_transient_failures_left_after_the_retries_come_back_later(make_settings, app_factory) -> None:
    answers = iter([httpx.Response(503)] * 2 + [httpx.Response(200)] * 5)
    respx.post(PUSH_URL).mock(side_effect=lambda request: next(answers))
    app = await app_factory(make_settings(fabric_api_url=FABRIC, fabric_max_retries=1, max_attempts=3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        status, job = await run_import(client, document(3))

    assert status["status"] == "completed"
    assert status["attempts"] == 2, "the job itself was retried once"
    assert job["batches"][0]["attempts"] == 3


@respx.mock
async def test_the_export_instructions_example_is_accepted_unchanged(client) -> None:
    respx.post(PUSH_URL).mock(return_value=httpx.Response(200))
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    status, job = await run_import(client, example)

    assert status["status"] == "completed"
    assert job["items_total"] == len(example["highlights"])
    upload = await client.post("/spark/import/file", files={"file": ("example.json", EXAMPLE.read_bytes())})
    assert upload.status_code == 202, upload.text


@respx.mock
async def test_idempotency_key_returns_the_first_import(client, settings) -> None:
    respx.post(PUSH_URL).mock(return_value=httpx.Response(200))
    body = document(5)
    first = await client.post("/spark/import", json=body, headers={"Idempotency-Key": "llm-run-1"})
    again = await client.post("/spark/import", json=body, headers={"Idempotency-Key": "llm-run-1"})
    other = await client.post("/spark/import", json=document(6), headers={"Idempotency-Key": "llm-run-1"})

    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 409)
    assert again.json()["import_id"] == first.json()["import_id"]
    listing = (await client.get("/spark/import", params={"repo_guid": "demo-repo"})).json()
    assert listing["total"] == 1
    copies = list(settings.import_base_path.glob("*.json"))
    assert [path.stem for path in copies] == [first.json()["import_id"]]
