"""kill -9 in the middle of an import (SPEC §7): after a restart it completes, no accepted batch is
sent twice, and the batch that was on the wire at the kill is sent again and marked re-sent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import httpx
import pytest
from pymongo import MongoClient

from tests.processes import ROOT, ServiceProcess, service_env
from tools.embedded_mongo import free_port

pytestmark = pytest.mark.slow
STUB_KEY = "stub-secret-key-42"


@pytest.fixture
def stub(tmp_path):
    port = free_port()
    env = {**os.environ, "STUB_API_KEY": STUB_KEY, "STUB_LATENCY_MS": "700"}
    log = (tmp_path / "stub.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.fabric_stub", "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_kill_9_mid_import_resends_only_the_batch_in_flight(settings, stub, tmp_path) -> None:
    env = service_env(
        settings, lease_seconds=4, fabric_api_url=stub, fabric_api_key=STUB_KEY, fabric_import_batch_size=100
    )
    highlights = [{"comment": f"moment {n}", "start": n, "end": n + 0.5} for n in range(1000)]
    document = {
        "schemaVersion": "sdna.spark.import.v1",
        "asset": {"repo_guid": "demo-repo", "fullPath": "/demo/interview.mov"},
        "highlights": highlights,
    }
    first = ServiceProcess(env, tmp_path / "first.log", "first").start()
    second = None
    try:
        import_id = first.post("/spark/import", json=document).json()["import_id"]
        with MongoClient(settings.mongodb_url) as client:
            jobs = client[settings.mongodb_db_name]["jobs"]

            def batches() -> list[dict]:
                return jobs.find_one({"_id": import_id})["result"]["batches"]

            deadline = time.monotonic() + 60
            while not (
                sum(b["status"] == "accepted" for b in batches()) >= 2
                and any(b["status"] == "sending" for b in batches())
            ):
                assert time.monotonic() < deadline, batches()
                time.sleep(0.05)
            first.kill()
            at_kill = batches()

            second = ServiceProcess(env, tmp_path / "second.log", "second").start()
            deadline = time.monotonic() + 90
            while jobs.find_one({"_id": import_id})["status"] != "completed":
                assert time.monotonic() < deadline, jobs.find_one({"_id": import_id})
                time.sleep(0.2)
            job = jobs.find_one({"_id": import_id})
    finally:
        first.stop()
        if second is not None:
            second.stop()

    received = httpx.get(stub + "/_stub/received").json()
    in_flight = {b["index"] for b in at_kill if b["status"] == "sending"}
    accepted_before = {b["index"] for b in at_kill if b["status"] == "accepted"}
    sends = Counter(int(call["idempotency_key"].rsplit(":", 1)[1]) for call in received)
    delivered = {
        event["insight"] for call in received if call["status"] == 200 for event in call["body"]["insightEvents"]
    }

    assert job["result"]["items_created"] == 1000 and job["attempts"] == 2
    assert delivered == {h["comment"] for h in highlights}, "every highlight reached Fabric at least once"
    for index in accepted_before:
        assert sends[index] == 1, f"batch {index} was accepted before the kill and sent again"
    for batch in job["result"]["batches"]:
        assert batch["resent"] is (batch["index"] in in_flight), batch
        assert batch["status"] == "accepted"
        if batch["index"] not in in_flight:
            assert sends[batch["index"]] == 1, (batch, sends)
    assert all(call["api_key_ok"] for call in received)
    assert all(STUB_KEY not in str(call) for call in received)
