"""`make run`: everything a new machine needs to serve AI Spark, in the foreground.

1. No `MONGODB_URL`? Build (once) and start the embedded FerretDB server, data in `.data/ferretdb`
   (kept between runs, so jobs and packages survive a restart), on port 27117 or a free one.
2. Load the demo asset (`demo-repo`, `/demo/interview.mov`) into the catalog, idempotently. A
   database that is down is one line saying so: the API still starts, and /health says 503.
   No `MEDIA_ROOTS` in the environment? Make (once, ~20-40 s) the demo asset's media with ffmpeg
   (`tools/demo_media.py`) in `.data/media` and serve with `MEDIA_ROOTS` pointing there. An empty
   `MEDIA_ROOTS=` keeps media off.
3. No `FABRIC_API_URL`? Start the Fabric stub (`tools/fabric_stub.py`) and point the service at it.
4. Serve the API (`python main.py`) with the environment (and `.env`) honoured: `PORT`, `HOST`, ...

Ctrl-C (or SIGTERM) stops the API first, so running jobs are handed back, then the stub and the
database. Every child it started is stopped, whatever way it exits; a second signal while stopping does
not cut the clean-up short.

For scripts that need a stack of their own beside a developer's `make run` (the smoke and fuzz tests),
three variables of the environment, read here only (the service never sees them as settings):
`AI_SPARK_DATA_DIR` (instead of `.data`: database, its log, default export and import folders),
`EMBEDDED_MONGODB_PORT` and `FABRIC_STUB_PORT` (exactly these ports, or stop with an error if taken;
unset, 27117 and 9100 or a free port when those are taken).

One database server per data folder: if another server holds it (another `make run`, say), this one
stops with one line naming it (pid and address) before it starts anything. The server dies with this
process, however it dies (tools/embedded_mongo.py), and so do the API and the stub
(tools/die_with_parent.py), so a stack killed with -9 leaves nothing behind.
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

from tools.data_folder_lock import DataFolderInUse, folder_holder
from tools.demo_media import ensure_demo_media
from tools.die_with_parent import die_with_parent
from tools.embedded_mongo import EmbeddedMongo, free_port, port_is_free

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB_PORT = 27117
DEFAULT_STUB_PORT = 9100
DEV_FABRIC_KEY = "dev-fabric-key"


def environment() -> dict[str, str]:
    """The process environment over `.env`, as the service itself will see it."""
    from_file = {key: value for key, value in dotenv_values(ROOT / ".env").items() if value is not None}
    return {**from_file, **os.environ}


def data_dir() -> Path:
    """`.data`, or `AI_SPARK_DATA_DIR` for a stack of its own (tests)."""
    return Path(os.environ.get("AI_SPARK_DATA_DIR") or ROOT / ".data").resolve()


def pick_port(variable: str, preferred: int) -> int:
    """The port named by `variable` exactly, else `preferred`, else any free one."""
    wanted = os.environ.get(variable)
    if wanted:
        if not wanted.isdigit() or not 0 < int(wanted) < 65536:
            raise SystemExit(f"{variable}: not a port number: {wanted!r}")
        if not port_is_free(int(wanted)):
            raise SystemExit(f"{variable}: port {wanted} is already in use")
        return int(wanted)
    return preferred if port_is_free(preferred) else free_port()


def new_database() -> EmbeddedMongo:
    data = data_dir()
    holder = folder_holder(data / "ferretdb")
    if holder is not None:  # before the port is picked: its port is the one a second stack would want
        raise SystemExit(folder_in_use(DataFolderInUse(data / "ferretdb", holder)))
    port = pick_port("EMBEDDED_MONGODB_PORT", DEFAULT_DB_PORT)
    return EmbeddedMongo(data / "ferretdb", port, log_path=data / "ferretdb.log")


def folder_in_use(error: DataFolderInUse) -> str:
    """The one line a second stack on a data folder in use stops with."""
    return f"[make run] {error}: stop that stack first, or give this one its own AI_SPARK_DATA_DIR"


def start_database(server: EmbeddedMongo, env: dict[str, str]) -> None:
    try:
        server.start()
    except DataFolderInUse as in_use:  # another stack took the folder since new_database() looked
        raise SystemExit(folder_in_use(in_use)) from None
    env["MONGODB_URL"] = server.url
    say(f"embedded MongoDB-compatible server (FerretDB) at {server.url}, data in {server.data_dir}")


def launch_stub(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = pick_port("FABRIC_STUB_PORT", DEFAULT_STUB_PORT)
    env.setdefault("FABRIC_API_KEY", DEV_FABRIC_KEY)
    stub_env = {**env, "STUB_API_KEY": env["FABRIC_API_KEY"]}
    command = [sys.executable, "-m", "tools.fabric_stub", "--host", "127.0.0.1", "--port", str(port)]
    stub = subprocess.Popen(command, cwd=ROOT, env=stub_env, preexec_fn=die_with_parent())
    return stub, f"http://127.0.0.1:{port}"


def stub_ready(stub: subprocess.Popen[bytes], url: str, env: dict[str, str]) -> None:
    wait_for_http(url + "/health", stub)
    env["FABRIC_API_URL"] = url
    say(f"Fabric stub at {url} (what it received: GET {url}/_stub/received)")


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
    # Not subprocess.run: on Ctrl-C/SIGTERM it kills the loader without waiting for it, leaving a zombie.
    loader = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _, errors = loader.communicate()
    finally:
        stop(loader)
    if loader.returncode:
        # The loader says why in its last line; serving anyway lets /health name what is down.
        reason = (errors or "").strip().splitlines()[-1:] or [f"exit status {loader.returncode}"]
        say(f"the demo asset could not be loaded: {reason[0][:300]}")


def prepare_demo_media(env: dict[str, str]) -> None:
    """The demo asset's media under `.data/media`, made once, as MEDIA_ROOTS (unless it is set)."""
    if "MEDIA_ROOTS" in env:
        return
    root = data_dir() / "media"
    if not (root / "demo" / "interview.mov").is_file():
        say("making the demo media once with ffmpeg (12 minutes at 320x180; takes about half a minute)")
    try:
        path, _ = ensure_demo_media(root)
    except (OSError, subprocess.CalledProcessError) as error:
        # No ffmpeg (or it failed): serve without media rather than not at all.
        say(f"no demo media ({error}); media features stay off")
        env["MEDIA_ROOTS"] = ""
        return
    env["MEDIA_ROOTS"] = str(root)
    say(f"demo media {path}; MEDIA_ROOTS={root}")


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
    data = data_dir()
    env.setdefault("EXPORT_BASE_PATH", str(data / "exports"))
    env.setdefault("IMPORT_BASE_PATH", str(data / "imports"))
    database: EmbeddedMongo | None = None
    stub: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    # SIGTERM (from a supervisor) takes the same way out as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # Each child is held in its variable before waiting for it to be ready, so a signal that
        # arrives while it starts still stops it in `finally`.
        if not env.get("MONGODB_URL"):
            database = new_database()
            start_database(database, env)
        prepare_demo_media(env)
        load_demo(env)
        if not env.get("FABRIC_API_URL"):
            stub, stub_url = launch_stub(env)
            stub_ready(stub, stub_url, env)
        host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
        say(f"serving http://{host}:{port} (Ctrl-C stops everything)")
        api = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=env, preexec_fn=die_with_parent())
        return api.wait()
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        # No KeyboardInterrupt from here on: a second signal must not leave a child running. (The
        # children still get a terminal's Ctrl-C themselves, and uvicorn hurries on a second one.)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop(api, timeout=60.0)
        stop(stub)
        if database is not None:
            database.stop()


if __name__ == "__main__":
    sys.exit(main())
