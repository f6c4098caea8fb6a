"""Stopping ffmpeg: a cancel request mid-subclip leaves no ffmpeg, no partial file, a cancelled job."""

from __future__ import annotations

import asyncio
import os
import time

import httpx

from tests.features.create_export.media.fixtures import ffmpeg_children
from tests.support import wait_until_finished


def long_subclips_order() -> dict:
    return {
        "repo_guid": "long-repo",
        "inputs": {"full_path": "/long.mov"},
        "user_inputs": {"llm_instructions": False},
        "media": {"subclips": {"enabled": True, "source": ["comments"], "handle_seconds": 0, "accurate": True}},
    }


def long_comments() -> list[dict]:
    return [
        {
            "repoGuid": "long-repo",
            "fullPath": "/long.mov",
            "sdnaEventType": "comment",
            "eventValue": f"take {n}",
            "start": n * 70.0,
            "end": n * 70.0 + 69.0,
        }
        for n in range(4)
    ]


async def wait_for(predicate, within: float, message: str):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(message)


async def test_cancel_during_a_long_subclip_run_stops_ffmpeg(make_settings, app_factory, catalog, long_media) -> None:
    settings = make_settings(media_roots=[long_media])
    app = await app_factory(settings)
    await catalog.insert_many(long_comments())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/spark", json=long_subclips_order())
        assert response.status_code == 202, response.text
        spark_id = response.json()["spark_id"]
        await wait_for(lambda: ffmpeg_children(os.getpid()), 60, "ffmpeg never started")

        assert (await client.post(f"/spark/{spark_id}/cancel")).status_code == 202
        # TERM, then KILL after 3 s: the acceptance bound of the issue is 5 s.
        await wait_for(lambda: not ffmpeg_children(os.getpid()), 5, "ffmpeg still running 5 s after the cancel")

        status = await wait_until_finished(client, f"/spark/{spark_id}/status", within=30)
    assert status["status"] == "cancelled"
    assert not (settings.export_base_path / spark_id).exists()
    assert not list(settings.export_base_path.glob(".*")), "no build folder (or partial subclip) may be left"


async def test_a_job_timeout_mid_subclip_stops_ffmpeg_and_fails_the_job(
    make_settings, app_factory, catalog, long_media
) -> None:
    settings = make_settings(media_roots=[long_media], job_timeout_seconds=1)
    app = await app_factory(settings)
    await catalog.insert_many(long_comments())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.post("/spark", json=long_subclips_order())
        status = await wait_until_finished(client, response.json()["links"]["status"], within=30)
    assert status["status"] == "failed" and "timed out" in status["error"]
    await wait_for(lambda: not ffmpeg_children(os.getpid()), 5, "ffmpeg still running after the timeout")
    assert not list(settings.export_base_path.glob(".*")) and not list(settings.export_base_path.glob("*-*"))


async def test_shutdown_mid_subclip_stops_ffmpeg_and_hands_the_job_back(
    make_settings, catalog, long_media, database_names
) -> None:
    from pymongo import MongoClient

    from main import create_app

    settings = make_settings(media_roots=[long_media], shutdown_grace_seconds=0)
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    await catalog.insert_many(long_comments())
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            spark_id = (await client.post("/spark", json=long_subclips_order())).json()["spark_id"]
            await wait_for(lambda: ffmpeg_children(os.getpid()), 60, "ffmpeg never started")
    finally:
        await lifespan.__aexit__(None, None, None)
    assert ffmpeg_children(os.getpid()) == [], "shutdown must not leave ffmpeg running"
    with MongoClient(settings.mongodb_url) as mongo:
        job = mongo[database_names[0]]["jobs"].find_one({"_id": spark_id})
    assert job["status"] == "pending" and job["runs"][-1]["outcome"] == "handed_back"
    assert not list(settings.export_base_path.glob(".*"))
