"""Real processes of the `make run` stack and of the embedded database, seen through /proc.

For the tests of issue 18: the embedded server dies with whatever started it, and a data folder
never has two servers. `DevStack` runs `python -m tools.dev_stack` on its own ports and data folder, in
a session (process group) of its own so a test can kill -9 the whole group as a crashed terminal or
an OOM kill does. The scans read /proc directly: which processes have files of a folder open, and
which ferretdb-embedded processes serve it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tools.data_folder_lock import LOCK_FILE_NAME
from tools.embedded_mongo import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVER_NAME = "ferretdb-embedded"


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie (a dead child its parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def children_of(pid: int) -> set[int]:
    found = set()
    for child in _pids():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if parent_of(child) == pid:
                found.add(child)
    return found


def holders_of(folder: Path, *, count_lock_file: bool = True) -> set[int]:
    """Every process with a file under `folder` open. Without the lock file, the servers that have
    the folder's data open: a second server may open the lock file to test it, never the data."""
    prefix = str(folder.resolve()) + os.sep
    found = set()
    for pid in _pids():
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith(prefix) and (count_lock_file or not target.endswith(os.sep + LOCK_FILE_NAME)):
                        found.add(pid)
                        break
    return found


def servers_of(folder: Path) -> set[int]:
    """The running ferretdb-embedded processes whose `-data` is `folder` or lies under it."""
    wanted = str(folder.resolve())
    found = set()
    for pid in _pids():
        with contextlib.suppress(OSError):
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if args and args[0].endswith(SERVER_NAME) and "-data" in args:
                data = str(Path(args[args.index("-data") + 1]).resolve())
                if (data == wanted or data.startswith(wanted + os.sep)) and alive(pid):
                    found.add(pid)
    return found


def kill_servers_of(folder: Path) -> None:
    """After a failed check: no server of a test's own temporary folder may stay behind."""
    for pid in servers_of(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_for(predicate: Callable[[], object], within: float, message: str, step: float = 0.05) -> object:
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} (waited {within:g} s)")
        time.sleep(step)


class DevStack:
    """`python -m tools.dev_stack` with its own data folder and ports, in a session of its own."""

    def __init__(self, data_dir: Path, log_path: Path, db_port: int | None = None, **settings: object) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.api_port = free_port()
        self.db_port = db_port or free_port()
        self.stub_port = free_port()
        inherited = {key: value for key, value in os.environ.items() if not key.startswith(("MONGODB", "FABRIC"))}
        self.env = {
            **inherited,
            # Empty URLs override a developer's .env: the stack starts its own database and stub.
            "MONGODB_URL": "",
            "FABRIC_API_URL": "",
            "AI_SPARK_DATA_DIR": str(data_dir),
            "EXPORT_BASE_PATH": str(data_dir / "exports"),
            "IMPORT_BASE_PATH": str(data_dir / "imports"),
            "EMBEDDED_MONGODB_PORT": str(self.db_port),
            "FABRIC_STUB_PORT": str(self.stub_port),
            "FABRIC_MONGODB_URL": f"mongodb://127.0.0.1:{self.db_port}/",
            "FABRIC_CATALOG_DB": "ApiDNA",
            "MONGODB_DB_NAME": "ai_spark_db",
            "API_KEYS": "",
            "MEDIA_ROOTS": "",
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "INFO",
            "HOST": "127.0.0.1",
            "PORT": str(self.api_port),
            **{key.upper(): str(value) for key, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.db_port}/"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> DevStack:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tools.dev_stack"],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        return self

    def start(self, timeout: float = 180.0) -> DevStack:
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"the stack was not healthy within {timeout:g} s:\n{self.tail()}")

    def kill_alone(self) -> None:
        """kill -9 of the stack's own process only, as the OOM killer picks one."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def kill_group(self) -> None:
        """kill -9 of the stack's whole process group, as a crashed terminal does to `make run`."""
        os.killpg(self.pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as a supervisor stops it (it stops its children); the group is killed if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.kill_group()

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
