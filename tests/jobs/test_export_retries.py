"""Transient failures of an export are retried with backoff; the job completes when the cause is gone."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import httpx
from pymongo import MongoClient

from shared.db import CATALOG_COLLECTION
from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset_sync
from tools.embedded_mongo import EmbeddedMongo


async def test_an_unreachable_catalog_is_retried_until_it_is_back(make_settings, app_factory, tmp_path) -> None:
    catalog_server = EmbeddedMongo(tmp_path / "catalog").start()
    try:
        with MongoClient(catalog_server.url) as client:
            load_demo_asset_sync(client["ApiDNA"][CATALOG_COLLECTION])
        app = await app_factory(make_settings(fabric_mongodb_url=catalog_server.url, fabric_catalog_db="ApiDNA"))
        catalog_server.stop()

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post("/spark", json=work_order(["json"]))
            status_url = response.json()["links"]["status"]
            deadline = time.monotonic() + 30
            while True:
                status = (await client.get(status_url)).json()
                if status["status"] == "pending" and status["attempts"] == 1:
                    break
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.1)
            assert "ServerSelectionTimeoutError" in status["error"] or "AutoReconnect" in status["error"]

            catalog_server.start()  # same port, same data
            finished = await wait_until_finished(client, status_url, within=60)
            job = (await client.get(f"/spark/{response.json()['spark_id']}")).json()
    finally:
        catalog_server.stop()

    assert finished["status"] == "completed", finished
    assert finished["attempts"] == 2
    assert [run["outcome"] for run in job["runs"]] == ["retry", "completed"]
    gap = _seconds_between(job["runs"][0]["ended_at"], job["runs"][1]["started_at"])
    assert gap >= 1.5, f"the retry came back after {gap:.2f} s, before its backoff"


def _seconds_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
