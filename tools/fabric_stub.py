"""A stand-in for Fabric's insight API (SPEC §2.2), for smoke tests and local runs.

    python -m tools.fabric_stub --host 127.0.0.1 --port 9100

`POST /catalogs/aiEnrichedMetadata/insights/llm/add` checks the `apiKey` header (when a key is
configured) and the body's shape, records the call and answers 200 `{"ok": true, "created": n}`.
Every push first takes the next *planned answer* from a FIFO queue, so a test can script Fabric's
bad days: `{"status": 500}`, `{"status": 429, "retry_after": 2}`, `{"status": 400, "body": "..."}`,
`{"hang_seconds": 40}` (wait, then answer normally; a client that gives up is recorded as 499).

Control API (no key needed; this is a test tool):
    POST   /_stub/faults     a list of planned answers (appended), one planned answer,
                             `{"latency_ms": n}`, or `{"fail_times": n, "fail_status": s, "retry_after": r}`
    GET    /_stub/faults     the queue and the latency
    DELETE /_stub/faults     empty the queue, latency back to 0
    GET    /_stub/received   every recorded push, oldest first (`arrived_at`: epoch seconds)
    GET    /_stub/stats      pushes received, accepted (once per `Idempotency-Key`) and duplicates
    DELETE /_stub/received   reset everything to the state the stub started in
    GET /, GET /health       200 `{"status": "ok"}` (the service's health check pings the base URL)

Start-up faults: `STUB_API_KEY`, `STUB_LATENCY_MS`, `STUB_FAIL_TIMES`, `STUB_FAIL_STATUS`,
`STUB_RETRY_AFTER`, or the matching CLI flags (flags win). Reading os.environ is fine here: this is a
tool, not the service. The API key is never stored, logged or returned: recorded headers show `***`.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import posixpath
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

INSIGHTS_PATH = "/catalogs/aiEnrichedMetadata/insights/llm/add"
MASK = "***"
# Headers whose values are credentials: recorded masked, never logged.
SECRET_HEADERS = frozenset({"apikey", "authorization", "x-api-key"})
FAULT_KEYS = frozenset({"status", "retry_after", "body", "hang_seconds"})
CLIENT_GONE_STATUS = 499  # nginx's "client closed request": the client gave up before we answered
DISCONNECT_POLL_SECONDS = 0.05

log = logging.getLogger("tools.fabric_stub")


# --- configuration and state -----------------------------------------------------------------------


@dataclass(frozen=True)
class StubConfig:
    """How the stub starts; `DELETE /_stub/received` returns to exactly this state."""

    api_key: str | None = None
    latency_ms: int = 0
    fail_times: int = 0
    fail_status: int = 500
    retry_after: float | None = None
    faults: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StubConfig:
        env = os.environ if environ is None else environ
        retry_after = env.get("STUB_RETRY_AFTER")
        return cls(
            api_key=env.get("STUB_API_KEY") or None,
            latency_ms=int(env.get("STUB_LATENCY_MS", "0")),
            fail_times=int(env.get("STUB_FAIL_TIMES", "0")),
            fail_status=int(env.get("STUB_FAIL_STATUS", "500")),
            retry_after=float(retry_after) if retry_after else None,
        )

    def __repr__(self) -> str:
        # A config may be printed in a test failure; the key must not be.
        key = MASK if self.api_key else None
        return (
            f"StubConfig(api_key={key!r}, latency_ms={self.latency_ms}, fail_times={self.fail_times}, "
            f"fail_status={self.fail_status}, retry_after={self.retry_after}, faults={list(self.faults)!r})"
        )


@dataclass
class StubState:
    config: StubConfig
    faults: deque[dict[str, Any]] = field(default_factory=deque)
    latency_ms: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    # Like Fabric, a key accepted once is not accepted again: the replay answers as the first did.
    accepted: dict[str, int] = field(default_factory=dict)  # Idempotency-Key → events created
    duplicates: int = 0

    def reset(self) -> None:
        """Back to the start-up state: start-up faults re-armed, nothing recorded."""
        self.received.clear()
        self.accepted.clear()
        self.duplicates = 0
        self.faults.clear()
        self.latency_ms = self.config.latency_ms
        self.faults.extend(shorthand_faults(self.config.fail_times, self.config.fail_status, self.config.retry_after))
        self.faults.extend(normalize_fault(fault) for fault in self.config.faults)

    def next_fault(self) -> dict[str, Any]:
        return self.faults.popleft() if self.faults else {}

    def summary(self) -> dict[str, Any]:
        return {"queued": list(self.faults), "latency_ms": self.latency_ms}


def normalize_fault(raw: Any) -> dict[str, Any]:
    """One planned answer, checked so a typo in a test fails loudly instead of being ignored."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"a planned answer must be an object, got {raw!r}")
    unknown = set(raw) - FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown keys in planned answer: {sorted(unknown)}; allowed: {sorted(FAULT_KEYS)}")
    fault = dict(raw)
    if "status" in fault and not (isinstance(fault["status"], int) and 100 <= fault["status"] <= 599):
        raise ValueError(f"status must be an integer 100..599, got {fault['status']!r}")
    if "hang_seconds" in fault and not _non_negative_number(fault["hang_seconds"]):
        raise ValueError(f"hang_seconds must be a number >= 0, got {fault['hang_seconds']!r}")
    retry_after = fault.get("retry_after", 0)
    if not (_non_negative_number(retry_after) or isinstance(retry_after, str)):
        raise ValueError(f"retry_after must be seconds or an HTTP date, got {fault['retry_after']!r}")
    return fault


def shorthand_faults(times: int, status: int, retry_after: float | None) -> list[dict[str, Any]]:
    """`fail_times` + `fail_status` as that many planned answers."""
    fault: dict[str, Any] = {"status": status}
    if retry_after is not None:
        fault["retry_after"] = retry_after
    return [normalize_fault(fault) for _ in range(times)]


def _non_negative_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


# --- the insight push --------------------------------------------------------------------------------


async def push_insights(request: Request) -> Response:
    state: StubState = request.app.state.stub
    began = time.monotonic()
    fault = state.next_fault()  # taken on arrival so concurrent calls consume the queue in arrival order
    raw = await request.body()
    record = _record(request, raw, state.config.api_key, fault)
    state.received.append(record)

    delay = state.latency_ms / 1000 + fault.get("hang_seconds", 0)
    if delay and await _client_left_while_waiting(request, delay):
        response: Response = JSONResponse({"ok": False, "error": "client gave up"}, status_code=CLIENT_GONE_STATUS)
    elif "status" in fault:
        response = _planned_response(fault)
    else:
        response = _deduplicated(state, record, _answer(record, state.config.api_key is not None))

    record["status"] = response.status_code
    record["duration_ms"] = round((time.monotonic() - began) * 1000, 1)
    _log_call(record)
    return response


def _record(request: Request, raw: bytes, api_key: str | None, fault: dict[str, Any]) -> dict[str, Any]:
    """What a test needs to check about one call; the key itself is reduced to `api_key_ok`."""
    sent_key = request.headers.get("apikey")
    headers = {name: (MASK if name in SECRET_HEADERS else value) for name, value in request.headers.items()}
    body, body_text = _parse_json(raw)
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        # Epoch seconds at full precision, for tests that check how pushes are spaced over time.
        "arrived_at": time.time(),
        "method": request.method,
        "path": request.url.path,
        "headers": headers,
        "api_key_present": sent_key is not None,
        "api_key_ok": api_key is None or (sent_key is not None and _same_key(sent_key, api_key)),
        "idempotency_key": request.headers.get("idempotency-key"),
        "body": body,
        "body_text": body_text,
        "fault": fault or None,
        "status": None,  # filled in when answered; None while the call is still waiting
        "duration_ms": None,
    }


def _same_key(sent: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str and a header may carry any latin-1 byte.
    return hmac.compare_digest(sent.encode("latin-1", "replace"), expected.encode("latin-1", "replace"))


def _parse_json(raw: bytes) -> tuple[Any, str | None]:
    """The parsed body, or (None, the raw text) when it is not JSON, so a bad body can still be inspected."""
    try:
        return json.loads(raw), None
    except ValueError:
        return None, raw.decode("utf-8", errors="replace")


async def _client_left_while_waiting(request: Request, seconds: float) -> bool:
    """Sleep, but notice a client that timed out, as Fabric would see its connection drop."""
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(DISCONNECT_POLL_SECONDS, remaining))
        if await request.is_disconnected():
            return True
    return False


def _planned_response(fault: dict[str, Any]) -> Response:
    status = fault["status"]
    headers = {"Retry-After": _retry_after_header(fault["retry_after"])} if "retry_after" in fault else None
    body = fault.get("body")
    if body is None:
        body = {"ok": False, "error": f"planned stub answer {status}"}
    if isinstance(body, str):
        return PlainTextResponse(body, status_code=status, headers=headers)
    return JSONResponse(body, status_code=status, headers=headers)


def _retry_after_header(value: float | int | str) -> str:
    # Retry-After is delta-seconds (an integer) or an HTTP date; whole floats are sent as integers.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _deduplicated(state: StubState, record: dict[str, Any], response: Response) -> Response:
    """Accept each `Idempotency-Key` once; a replay of an accepted one is counted and answered as
    the first was, creating nothing."""
    key = record["idempotency_key"]
    if key is None or not 200 <= response.status_code < 300:
        return response
    if key in state.accepted:
        state.duplicates += 1
        record["duplicate"] = True
        return JSONResponse({"ok": True, "created": state.accepted[key], "replayed": True})
    state.accepted[key] = len(record["body"]["insightEvents"])
    return response


def _answer(record: dict[str, Any], key_required: bool) -> Response:
    if key_required and not record["api_key_ok"]:
        return JSONResponse({"ok": False, "error": "missing or wrong apiKey header"}, status_code=401)
    problems = body_problems(record["body"])
    if problems:
        return JSONResponse({"ok": False, "error": "bad request body", "problems": problems}, status_code=400)
    return JSONResponse({"ok": True, "created": len(record["body"]["insightEvents"])})


def body_problems(body: Any) -> list[str]:
    """A loose check of SPEC §2.2's body: right shape, not every field's rules."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    problems = [
        f"{name} must be a non-empty string"
        for name in ("repoGuid", "fullPath", "fileName")
        if not (isinstance(body.get(name), str) and body[name])
    ]
    events = body.get("insightEvents")
    if not isinstance(events, list):
        problems.append("insightEvents must be a list")
    elif not all(isinstance(event, dict) for event in events):
        problems.append("every insightEvents item must be an object")
    full_path, file_name = body.get("fullPath"), body.get("fileName")
    if isinstance(full_path, str) and isinstance(file_name, str) and file_name != posixpath.basename(full_path):
        problems.append("fileName must be the basename of fullPath")
    return problems


def _log_call(record: dict[str, Any]) -> None:
    # Built from the record, which already holds no key: nothing here can leak it.
    events = record["body"].get("insightEvents") if isinstance(record["body"], dict) else None
    log.info(
        "push status=%s events=%s idempotency_key=%s api_key_ok=%s fault=%s duration_ms=%s",
        record["status"],
        len(events) if isinstance(events, list) else "-",
        record["idempotency_key"],
        record["api_key_ok"],
        json.dumps(record["fault"]) if record["fault"] else "-",
        record["duration_ms"],
    )


# --- control API ----------------------------------------------------------------------------------------


async def add_faults(request: Request) -> Response:
    state: StubState = request.app.state.stub
    payload, _ = _parse_json(await request.body())
    try:
        _apply_fault_request(state, payload)
    except (TypeError, ValueError) as exc:
        return JSONResponse({"ok": False, "error": str(exc)}, status_code=400)
    return JSONResponse(state.summary())


def _apply_fault_request(state: StubState, payload: Any) -> None:
    """Validate everything before changing anything, so a bad request leaves the queue as it was."""
    if isinstance(payload, list):
        state.faults.extend([normalize_fault(fault) for fault in payload])
    elif isinstance(payload, dict) and {"latency_ms", "fail_times"} & set(payload):
        _apply_settings(state, payload)
    elif isinstance(payload, dict):
        state.faults.append(normalize_fault(payload))
    else:
        raise ValueError("expected a list of planned answers or an object")


def _apply_settings(state: StubState, payload: dict[str, Any]) -> None:
    unknown = set(payload) - {"latency_ms", "fail_times", "fail_status", "retry_after"}
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)}")
    latency = payload.get("latency_ms", state.latency_ms)
    if not _non_negative_number(latency):
        raise ValueError(f"latency_ms must be a number >= 0, got {latency!r}")
    times, status = int(payload.get("fail_times", 0)), payload.get("fail_status", 500)
    added = shorthand_faults(times, status, payload.get("retry_after"))
    state.latency_ms = latency
    state.faults.extend(added)


async def get_faults(request: Request) -> Response:
    return JSONResponse(request.app.state.stub.summary())


async def clear_faults(request: Request) -> Response:
    state: StubState = request.app.state.stub
    state.faults.clear()
    state.latency_ms = 0
    return JSONResponse(state.summary())


async def get_received(request: Request) -> Response:
    return JSONResponse(request.app.state.stub.received)


async def get_stats(request: Request) -> Response:
    state: StubState = request.app.state.stub
    return JSONResponse(
        {"received": len(state.received), "accepted": len(state.accepted), "duplicates": state.duplicates}
    )


async def reset(request: Request) -> Response:
    state: StubState = request.app.state.stub
    state.reset()
    return JSONResponse({"ok": True, **state.summary()})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# --- app, server, CLI -----------------------------------------------------------------------------------


def create_stub_app(config: StubConfig | None = None) -> Starlette:
    """The stub as an ASGI app; `app.state.stub` is its live state, for tests that run it in-process."""
    routes = [
        Route("/", health, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route(INSIGHTS_PATH, push_insights, methods=["POST"]),
        Route("/_stub/faults", add_faults, methods=["POST"]),
        Route("/_stub/faults", get_faults, methods=["GET"]),
        Route("/_stub/faults", clear_faults, methods=["DELETE"]),
        Route("/_stub/received", get_received, methods=["GET"]),
        Route("/_stub/received", reset, methods=["DELETE"]),
        Route("/_stub/stats", get_stats, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.stub = StubState(config or StubConfig())
    app.state.stub.reset()
    return app


@dataclass(frozen=True)
class RunningStub:
    url: str
    app: Starlette

    @property
    def state(self) -> StubState:
        return self.app.state.stub


@contextmanager
def serve_in_thread(config: StubConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[RunningStub]:
    """A real uvicorn server on a free port in a background thread, for tests that need real sockets
    (client timeouts, connection errors); yields its base URL and live state."""
    app = create_stub_app(config)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, name="fabric-stub", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        bound_port = server.servers[0].sockets[0].getsockname()[1]
        yield RunningStub(f"http://{host}:{bound_port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fabric stub did not start")
        time.sleep(0.01)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.fabric_stub", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--api-key", help="required apiKey header (prefer STUB_API_KEY: flags show up in ps)")
    parser.add_argument("--latency-ms", type=int, help="delay added to every push")
    parser.add_argument("--fail-times", type=int, help="answer the first N pushes with --fail-status")
    parser.add_argument("--fail-status", type=int, help="status of those failures (default 500)")
    parser.add_argument("--retry-after", type=float, help="Retry-After seconds sent with those failures")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> StubConfig:
    """Environment first, flags on top."""
    base = StubConfig.from_env(environ)
    return StubConfig(
        api_key=args.api_key if args.api_key is not None else base.api_key,
        latency_ms=args.latency_ms if args.latency_ms is not None else base.latency_ms,
        fail_times=args.fail_times if args.fail_times is not None else base.fail_times,
        fail_status=args.fail_status if args.fail_status is not None else base.fail_status,
        retry_after=args.retry_after if args.retry_after is not None else base.retry_after,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = config_from(args)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s fabric_stub %(message)s")
    log.info("listening on http://%s:%s config=%r", args.host, args.port, config)
    # Our own one line per call replaces uvicorn's access log.
    # A bounded graceful shutdown: a planned 40-second hang must not hold up Ctrl-C.
    uvicorn.run(
        create_stub_app(config),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
