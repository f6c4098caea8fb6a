"""Progress that moves (issue 14): the catalog read counts its documents, and no step is lost.

The export runs through the real processor on a run claimed from the real database; what the run
writes is recorded on the way (the writes still go to the database). The throttle is set to 0 in the
first test so every step the processor asks for is written and the sequence is exact; the second
keeps the real throttle and shows the step it drops right after the claim is written a moment later.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

import shared.leases as leases
from features.create_export import create_export
from shared.jobs import jobs
from shared.leases import JobRun, claim
from tests.support import synthetic_events

FULL_PATH = "/big/asset.mov"


def record_writes(run: JobRun) -> list[tuple[float, str]]:
    """Every progress the run writes, in order (the write itself still happens)."""
    written: list[tuple[float, str]] = []
    write = run._write_progress

    async def recording(percent: float, step: str, now: float, quiet: bool = False, promptly: bool = False) -> None:
        before = run._last_progress
        await write(percent, step, now, quiet, promptly)
        if run._last_progress != before:
            written.append((round(percent, 1), step))

    run._write_progress = recording  # type: ignore[method-assign]
    return written


async def claimed_export(client: Any, app: Any, order: dict[str, Any]) -> JobRun:
    response = await client.post("/spark", json=order)
    assert response.status_code == 202, response.text
    run = await claim(app.state.services.database, "export", "progress-test", 120)
    assert run is not None and run.job_id == response.json()["spark_id"]
    return run


def order_of(formats: list[str]) -> dict[str, Any]:
    return {
        "repo_guid": "r",
        "inputs": {"full_path": FULL_PATH},
        "outputs": {"events": {"formats": formats}},
        "user_inputs": {"llm_instructions": False},
        "media": {"frame_rate": "25"},
    }


@pytest.fixture
async def app(app_factory: Any, make_settings: Any) -> Any:
    # No runner of its own: the test claims the job and runs the processor itself.
    return await app_factory(make_settings(export_concurrency=0))


async def test_the_catalog_read_counts_documents_and_every_step_is_written(app, client, catalog, monkeypatch) -> None:
    await catalog.insert_many(synthetic_events("r", FULL_PATH, 5_500))
    monkeypatch.setattr(leases, "PROGRESS_INTERVAL", 0.0)
    run = await claimed_export(client, app, order_of(["json", "csv", "edl"]))
    written = record_writes(run)

    await create_export.process(run, app.state.services)

    # keep_moving may write a step a second time under load (harmless): consecutive repeats count once.
    plain = [(percent, step) for percent, step in written if not re.search(r" \(\d+ s\)$", step)]
    asked = [item for index, item in enumerate(plain) if index == 0 or item != plain[index - 1]]
    steps = [step for _, step in asked]
    assert steps == [
        "reading the catalog",
        *(f"reading the catalog: {count:,} documents" for count in (1_000, 2_000, 3_000, 4_000, 5_000, 5_500)),
        "writing events.json",
        "writing events.csv",
        "writing events.edl",
        "writing manifest.json and the zip",
    ]
    percents = [percent for percent, _ in asked]
    assert percents == sorted(percents) and percents[0] == 2 and percents[-1] == 96
    # What keep_moving adds in a slow moment is the step asked for last, with its time.
    for index, (_, step) in enumerate(written):
        if match := re.fullmatch(r"(.*) \(\d+ s\)", step):
            assert match.group(1) in [earlier for _, earlier in written[:index]]
    job = await jobs(app.state.services.database).find_one({"_id": run.job_id})
    assert job["status"] == "completed" and job["progress"] == {"percent": 100, "step": "completed"}


async def test_a_step_the_throttle_drops_is_written_a_moment_later(app, client, catalog) -> None:
    await catalog.insert_many(synthetic_events("r", FULL_PATH, 10))
    run = await claimed_export(client, app, order_of(["json"]))
    await run.progress(2, "reading the catalog")  # right after the claim's write: throttled
    collection = jobs(app.state.services.database)
    assert (await collection.find_one({"_id": run.job_id}))["progress"]["step"] == "started"
    moving = asyncio.create_task(run.keep_moving())
    try:
        deadline = time.monotonic() + 30
        while (await collection.find_one({"_id": run.job_id}))["progress"]["step"] == "started":
            assert time.monotonic() < deadline, "the dropped step was never written"
            await asyncio.sleep(0.05)
        step = (await collection.find_one({"_id": run.job_id}))["progress"]["step"]
        assert re.fullmatch(r"reading the catalog( \(\d+ s\))?", step), step
    finally:
        moving.cancel()
    await run.finish(leases.JobStatus.completed)
