"""`GET /metrics`: Prometheus text with HTTP, job, queue and Fabric push metrics."""

from __future__ import annotations

import httpx
import respx
from prometheus_client.parser import text_string_to_metric_families

from shared.fabric import INSIGHTS_PATH
from tests.support import wait_until_finished, work_order


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_http_requests_are_counted_by_route_template(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await client.get("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/status")
    await client.get("/no/such/thing")
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert (
        value(found, "ai_spark_http_requests_total", method="GET", route="/spark/{spark_id}/status", status="404") == 3
    )
    assert value(found, "ai_spark_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert (
        value(found, "ai_spark_http_request_duration_seconds_count", method="GET", route="/spark/{spark_id}/status")
        == 3
    )


async def test_jobs_queue_and_runs_are_reported(app, client: httpx.AsyncClient) -> None:
    response = await client.post("/spark", json=work_order(["json"]))  # the test catalog is empty: it fails
    await wait_until_finished(client, response.json()["links"]["status"])
    app.state.runner._stopping = True
    await client.post("/spark", json=work_order(["json"]))

    found = samples((await client.get("/metrics")).text)
    assert value(found, "ai_spark_jobs", kind="export", status="failed") == 1
    assert value(found, "ai_spark_jobs", kind="export", status="pending") == 1
    assert value(found, "ai_spark_queue_depth", kind="export") == 1
    assert value(found, "ai_spark_oldest_pending_age_seconds") >= 0
    assert value(found, "ai_spark_job_runs_total", kind="export", outcome="finished") == 1
    assert value(found, "ai_spark_job_run_duration_seconds_count", kind="export", outcome="finished") == 1


@respx.mock
async def test_fabric_push_outcomes_are_counted_by_class(make_settings, app_factory) -> None:
    respx.post("https://fabric.example" + INSIGHTS_PATH).mock(
        side_effect=[httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200)]
    )
    app = await app_factory(make_settings(fabric_api_url="https://fabric.example"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        body = {
            "schemaVersion": "sdna.spark.import.v1",
            "asset": {"repo_guid": "r", "fullPath": "/a.mov"},
            "highlights": [{"comment": "x", "start": 0, "end": 1}],
        }
        response = await client.post("/spark/import", json=body)
        await wait_until_finished(client, response.json()["links"]["status"])
        found = samples((await client.get("/metrics")).text)

    assert value(found, "ai_spark_fabric_pushes_total", outcome="5xx") == 1
    assert value(found, "ai_spark_fabric_pushes_total", outcome="429") == 1
    assert value(found, "ai_spark_fabric_pushes_total", outcome="2xx") == 1
