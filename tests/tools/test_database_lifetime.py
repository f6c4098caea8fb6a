"""The embedded database with real processes (issue 18): one server per data folder, and nothing
that outlives the `make run` stack or the pytest run that started it.

Each check lists the processes and their open files through /proc (tests/server_lifetime.py). A
server that tests the folder's lock opens the lock file for that, so "open on the folder" means
holding any other file of it: the SQLite databases and their journals.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from tests.server_lifetime import (
    ROOT,
    DevStack,
    alive,
    children_of,
    command_line,
    holders_of,
    kill_servers_of,
    parent_of,
    servers_of,
    wait_for,
)
from tools.embedded_mongo import EmbeddedMongo, free_port

pytestmark = pytest.mark.slow


class OpenServersWatch:
    """Samples, until stopped, how many processes have the folder's data open at one moment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.most = 0
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.most = max(self.most, len(holders_of(self.folder, count_lock_file=False)))
            self.samples += 1

    def __enter__(self) -> OpenServersWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()


def test_a_second_stack_on_a_data_folder_in_use_stops_with_one_line_naming_the_holder(tmp_path) -> None:
    data = tmp_path / "data"
    first = DevStack(data, tmp_path / "first.log")
    second = DevStack(data, tmp_path / "second.log")  # its own ports: only the folder is shared
    try:
        first.start()
        [holder] = servers_of(data / "ferretdb")
        with OpenServersWatch(data / "ferretdb") as watch:
            second.launch()
            returncode = second.process.wait(timeout=60)  # type: ignore[union-attr]
        output = second.log_path.read_text().strip().splitlines()

        assert returncode != 0
        assert len(output) == 1, output
        assert f"pid {holder} on 127.0.0.1:{first.db_port}" in output[0] and str(data / "ferretdb") in output[0]
        assert watch.samples > 0 and watch.most == 1, (watch.samples, watch.most)
        assert servers_of(data) == {holder}
        assert httpx.get(first.url + "/health", timeout=10).status_code == 200
    finally:
        second.stop()
        first.stop()
        kill_servers_of(data)
    assert servers_of(data) == set()


def test_kill_9_of_the_stack_alone_takes_the_api_the_stub_and_the_database(tmp_path) -> None:
    stack = DevStack(tmp_path / "data", tmp_path / "stack.log")
    children: dict[int, bytes] = {}
    try:
        stack.start()
        children = {pid: command_line(pid) for pid in children_of(stack.pid)}
        assert len(children) == 3, children  # the database, the stub and the API
        assert servers_of(tmp_path / "data") <= children.keys()
        stack.kill_alone()
        wait_for(lambda: not any(alive(pid) for pid in children), 2.0, "children outlived the stack", step=0.02)
        assert holders_of(tmp_path / "data") == set()
    finally:
        stack.stop()
        for pid, command in children.items():  # after a failure: ours only, still the same process
            if alive(pid) and command_line(pid) == command:
                os.kill(pid, signal.SIGKILL)


def serve(data: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tools.embedded_mongo", "serve", "--data", str(data), "--port", str(port)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def race_two_launchers(data: Path) -> tuple[str, str, int]:
    """Start two launchers at once; the loser's stderr, the winner's first line, and the one server."""
    launchers = [serve(data, free_port()), serve(data, free_port())]
    try:
        wait_for(lambda: any(launcher.poll() is not None for launcher in launchers), 60, "neither one stopped")
        [loser] = [launcher for launcher in launchers if launcher.poll() is not None]
        [winner] = [launcher for launcher in launchers if launcher is not loser]
        [server] = servers_of(data)
        _, errors = loser.communicate(timeout=10)
        assert loser.returncode == 1 and winner.poll() is None and winner.stdout is not None
        return errors, winner.stdout.readline().strip(), server
    finally:
        for launcher in launchers:
            launcher.terminate()
            launcher.wait(timeout=30)
        kill_servers_of(data)


def test_two_launchers_started_at_once_on_one_folder_give_one_server(tmp_path) -> None:
    # Both launchers' early looks find the folder free; the server's own lock must settle it.
    data = tmp_path / "data"
    with EmbeddedMongo(data) as seeding, MongoClient(seeding.url) as client:
        client["seed"]["documents"].insert_one({"a": 1})  # a database file for the servers to open
    for trial in range(3):
        with OpenServersWatch(data) as watch:
            errors, winner_url, server = race_two_launchers(data)
        listen = winner_url.removeprefix("mongodb://").rstrip("/")
        assert errors.strip().splitlines() == [
            f"embedded_mongo: {data} is in use by another embedded database server (pid {server} on {listen})"
        ]
        assert watch.samples > 0 and watch.most == 1, (trial, watch.samples, watch.most)
        assert servers_of(data) == set()


SLEEPER = """
import os
import time
from pathlib import Path


def test_holds_the_embedded_server(mongodb_url):
    Path(os.environ["SLEEPER_READY"]).write_text(mongodb_url)
    time.sleep(600)
"""


def test_kill_9_of_a_pytest_run_leaves_no_server(tmp_path) -> None:
    (tmp_path / "test_sleeper.py").write_text(textwrap.dedent(SLEEPER))
    ready, basetemp = tmp_path / "ready", tmp_path / "basetemp"
    env = {key: value for key, value in os.environ.items() if key != "MONGODB_URL"}  # the embedded one
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-c", str(ROOT / "pyproject.toml")]
    command += ["-p", "no:cacheprovider", "-q", f"--basetemp={basetemp}", str(tmp_path / "test_sleeper.py")]
    run = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**env, "SLEEPER_READY": str(ready)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(ready.exists, 120, "the inner pytest run never reached its test")
        [server] = servers_of(basetemp)
        assert parent_of(server) == run.pid
        killed = time.monotonic()
        os.kill(run.pid, signal.SIGKILL)
        run.wait(timeout=10)
        wait_for(lambda: not alive(server), 2.0, f"ferretdb-embedded {server} outlived pytest", step=0.02)
        print(f"the server was gone {time.monotonic() - killed:.2f} s after kill -9 of pytest")
        assert servers_of(basetemp) == set()
        assert holders_of(basetemp) == set()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        kill_servers_of(basetemp)
