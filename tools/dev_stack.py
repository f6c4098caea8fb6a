"""`make run`: everything a new machine needs to serve AI Spark, in the foreground.

1. No `MONGODB_URL`? Build (once) and start the embedded FerretDB server, data in `.data/ferretdb`
   (kept between runs, so jobs and packages survive a restart), on port 27117 or a free one.
2. Load the demo asset (`demo-repo`, `/demo/interview.mov`) into the catalog, idempotently.
3. No `FABRIC_API_URL`? Start the Fabric stub (`tools/fabric_stub.py`) and point the service at it.
4. Serve the API (`python main.py`) with the environment (and `.env`) honoured: `PORT`, `HOST`, ...

Ctrl-C (or SIGTERM) stops the API first, so running jobs are handed back, then the stub and the
database. Every child it started is stopped, whatever way it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from dotenv import dotenv_values

from tools.embedded_mongo import EmbeddedMongo, free_port, port_is_free

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data"
DEFAULT_DB_PORT = 27117
DEFAULT_STUB_PORT = 9100
DEV_FABRIC_KEY = "dev-fabric-key"


def environment() -> dict[str, str]:
    """The process environment over `.env`, as the service itself will see it."""
    from_file = {key: value for key, value in dotenv_values(ROOT / ".env").items() if value is not None}
    return {**from_file, **os.environ}


def pick_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


def start_database(env: dict[str, str]) -> EmbeddedMongo:
    server = EmbeddedMongo(DATA / "ferretdb", pick_port(DEFAULT_DB_PORT), log_path=DATA / "ferretdb.log")
    server.start()
    env["MONGODB_URL"] = server.url
    say(f"embedded MongoDB-compatible server (FerretDB) at {server.url}, data in .data/ferretdb")
    return server


def start_stub(env: dict[str, str]) -> subprocess.Popen[bytes]:
    port = pick_port(DEFAULT_STUB_PORT)
    env.setdefault("FABRIC_API_KEY", DEV_FABRIC_KEY)
    stub_env = {**env, "STUB_API_KEY": env["FABRIC_API_KEY"]}
    command = [sys.executable, "-m", "tools.fabric_stub", "--host", "127.0.0.1", "--port", str(port)]
    stub = subprocess.Popen(command, cwd=ROOT, env=stub_env)
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/health", stub)
    env["FABRIC_API_URL"] = url
    say(f"Fabric stub at {url} (what it received: GET {url}/_stub/received)")
    return stub


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode} before it was ready")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} was not ready within {timeout:g} s")


def load_demo(env: dict[str, str]) -> None:
    catalog_url = env.get("FABRIC_MONGODB_URL") or env["MONGODB_URL"]
    catalog_db = env.get("FABRIC_CATALOG_DB", "ApiDNA")
    command = [sys.executable, "-m", "tools.demo_asset", "--mongodb-url", catalog_url, "--db", catalog_db]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def say(message: str) -> None:
    print(f"[make run] {message}", file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    env = environment()
    env.setdefault("EXPORT_BASE_PATH", str(DATA / "exports"))
    env.setdefault("IMPORT_BASE_PATH", str(DATA / "imports"))
    database: EmbeddedMongo | None = None
    stub: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    # SIGTERM (from a supervisor) takes the same way out as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not env.get("MONGODB_URL"):
            database = start_database(env)
        load_demo(env)
        if not env.get("FABRIC_API_URL"):
            stub = start_stub(env)
        host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
        say(f"serving http://{host}:{port} (Ctrl-C stops everything)")
        api = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=env)
        return api.wait()
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stop(api, timeout=60.0)
        stop(stub)
        if database is not None:
            database.stop()


if __name__ == "__main__":
    sys.exit(main())
