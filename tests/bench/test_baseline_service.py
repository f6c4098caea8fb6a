"""The benchmark's second baseline really is the service without durability: same route, same
package, no claim, lease or run record."""

from __future__ import annotations

import asyncio

import httpx

from bench import baseline_service
from tests.support import synthetic_events

ORDER = {
    "repo_guid": "bench-repo",
    "inputs": {"full_path": "/bench/tiny.mov"},
    "outputs": {"events": {"formats": ["json"]}},
    "user_inputs": {"llm_instructions": False},
    "media": {"frame_rate": "24000/1001"},
}


async def test_a_post_runs_the_export_through_background_tasks(catalog, settings, monkeypatch) -> None:
    monkeypatch.setattr(baseline_service, "get_settings", lambda: settings)
    await catalog.insert_many(synthetic_events("bench-repo", "/bench/tiny.mov", 5))
    app = baseline_service.create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            accepted = await client.post("/spark", json=ORDER)
            assert accepted.status_code == 202
            job = await _finished(client, accepted.headers["location"])

    assert job["status"] == "completed" and job["attempts"] == 0 and job["runs"] == []
    assert job["started_at"] is not None and job["manifest"]["counts"]["events"] == 5
    spark_id = accepted.json()["spark_id"]
    assert (settings.export_base_path / spark_id / f"{spark_id}.zip").is_file()
    assert app.state.runner.running_counts() == {"export": 0, "import": 0}


async def _finished(client: httpx.AsyncClient, location: str) -> dict:
    for _ in range(200):
        job = (await client.get(location)).json()
        if job["status"] not in ("pending", "processing"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"{location} did not finish: {job}")
