"""Real processes for the benchmarks: one command, its own port and log file, stopped in order.

Each process starts in its own session, so Ctrl-C in the terminal reaches only the benchmark, which
then stops its processes itself (SIGTERM, then SIGKILL after a grace period) instead of leaving
half of them running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.settings import Settings
from tools.embedded_mongo import free_port

ROOT = Path(__file__).resolve().parents[1]

# Every setting of the service comes from the benchmark, never from the shell it was started in.
_SETTINGS = {name.upper() for name in Settings.model_fields}


class BenchProcess:
    """One HTTP server process on 127.0.0.1 and a free port; healthy once `health_path` answers 200."""

    def __init__(
        self, name: str, argv: list[str], env: dict[str, str], log_path: Path, health_path: str, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.cwd = cwd
        self.port = free_port()
        self.argv = [part.replace("{port}", str(self.port)) for part in argv]
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1"}
        self.log_path = log_path
        self.health_path = health_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> BenchProcess:
        base_env = {key: value for key, value in os.environ.items() if key.upper() not in _SETTINGS}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=self.cwd, env={**base_env, **self.env}, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + self.health_path, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy within {timeout:g} s:\n{self.tail()}")

    def stop(self, grace: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def uvicorn_argv(factory: str) -> list[str]:
    """A quiet uvicorn serving an app factory on the port `BenchProcess` picks."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def kernel_seconds(pid: int) -> float | None:
    """The system (kernel) part of `cpu_seconds`: writes, page faults, the page cache."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux `/proc`), None elsewhere or once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kb(pid: int, field: str = "VmRSS") -> int | None:
    """A process's resident memory (`VmRSS`) or its peak (`VmHWM`) in kB from `/proc`, None once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def service_argv(profile: bool = False) -> list[str]:
    """The service exactly as `make run` and the container start it (with its commands timed if `profile`)."""
    return [sys.executable, "-m", "bench.profile_service"] if profile else [sys.executable, "main.py"]


def baseline_argv(profile: bool = False, name: str = "baseline") -> list[str]:
    """A baseline app (`baseline`: bench/baseline_app.py, `bg-service`: bench/baseline_service.py) under
    uvicorn with the same loop and HTTP parser uvicorn picks for the service."""
    if profile:
        return [sys.executable, "-m", "bench.profile_service", name]
    factory = {"baseline": "bench.baseline_app:create_app", "bg-service": "bench.baseline_service:create_app"}
    return uvicorn_argv(factory[name])
