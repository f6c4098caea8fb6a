"""The service as a real process (`python main.py`), for tests that kill, stop and restart it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tools.embedded_mongo import free_port

ROOT = Path(__file__).resolve().parents[1]


class ServiceProcess:
    """One API process with its own port; its log goes to a file the test can show on failure."""

    def __init__(
        self, env: dict[str, str], log_path: Path, name: str = "api", command: list[str] | None = None
    ) -> None:
        self.command = command or [sys.executable, "main.py"]
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log_path = log_path
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start_without_waiting(self) -> ServiceProcess:
        log = self.log_path.open("ab")
        base_env = {key: value for key, value in os.environ.items() if not key.startswith(("MONGODB", "FABRIC"))}
        self.process = subprocess.Popen(self.command, cwd=ROOT, env={**base_env, **self.env}, stdout=log, stderr=log)
        log.close()
        return self

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        self.start_without_waiting()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy within {timeout:g} s:\n{self.tail()}")

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait(10)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def post(self, path: str, json: Any, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, json=json, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kwargs)


def service_env(settings: Any, **overrides: Any) -> dict[str, str]:
    """The environment of a service process sharing one test's database and folders."""
    env = {
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB_NAME": settings.mongodb_db_name,
        "FABRIC_CATALOG_DB": settings.fabric_catalog_db,
        "EXPORT_BASE_PATH": str(settings.export_base_path),
        "IMPORT_BASE_PATH": str(settings.import_base_path),
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
    }
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return env
