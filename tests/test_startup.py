"""Start-up as a real process: an unreachable database is a 503, never a crash loop."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.processes import ServiceProcess
from tools.embedded_mongo import free_port

pytestmark = pytest.mark.slow


def test_an_unreachable_database_starts_the_service_with_health_503(tmp_path) -> None:
    env = {
        "MONGODB_URL": f"mongodb://127.0.0.1:{free_port()}",
        "ENVIRONMENT": "test",
        "EXPORT_BASE_PATH": str(tmp_path / "exports"),
    }
    service = ServiceProcess(env, tmp_path / "service.log")
    service.start_without_waiting()
    try:
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(service.url + "/health", timeout=6)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None, service.tail()
        assert health.status_code == 503
        assert "mongodb" in health.json()["failing"]
        time.sleep(3)  # still up, still answering: no crash, no restart loop
        assert service.process.poll() is None, service.tail()
        assert httpx.get(service.url + "/health", timeout=6).status_code == 503
    finally:
        service.stop()
