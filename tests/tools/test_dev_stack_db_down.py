"""`MONGODB_URL=mongodb://127.0.0.1:1 make run`, as a new user would try it: one line saying the demo
asset could not be loaded and why, no traceback, and a service whose /health answers 503 naming mongodb."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tools.embedded_mongo import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_make_run_with_the_database_down_says_so_and_serves(tmp_path) -> None:
    port = free_port()
    base = {key: value for key, value in os.environ.items() if not key.startswith(("MONGODB", "FABRIC", "MEDIA"))}
    env = {
        **base,
        "MONGODB_URL": "mongodb://127.0.0.1:1",
        "MEDIA_ROOTS": "",  # media off: this test is about the database, not the demo media
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "AI_SPARK_DATA_DIR": str(tmp_path / "data"),
        "FABRIC_STUB_PORT": str(free_port()),
        "ENVIRONMENT": "test",
    }
    log_path = tmp_path / "stack.log"
    with log_path.open("wb") as log:
        stack = subprocess.Popen(
            [sys.executable, "-m", "tools.dev_stack"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        health = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and stack.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=6)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        output = log_path.read_text(errors="replace")
        assert health is not None, output
        assert health.status_code == 503
        assert "mongodb" in health.json()["failing"]
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
    output = log_path.read_text(errors="replace")
    lines = [line for line in output.splitlines() if "demo asset could not be loaded" in line]
    assert len(lines) == 1, output
    assert "127.0.0.1:1" in lines[0] and "Connection refused" in lines[0]
    assert "Traceback" not in output
