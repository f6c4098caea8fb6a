"""The service (`main.serve()`), or a baseline app, with every MongoDB command timed (`jobs_bench --profile`).

A pymongo command listener, registered before the service builds its clients, groups the commands
by shape (command, collection and the names of the filter's fields, e.g.
`findAndModify jobs {_id,kind,$or}`) and, when the process exits, writes per shape: how many, the
total and median round trip in milliseconds, to the JSON file named by `BENCH_PROFILE_OUT`. Times are
measured by the driver from a command's send to its reply: the server's work and the wire, and under
load some wait for the event loop too.

    BENCH_PROFILE_OUT=/tmp/commands.json python -m bench.profile_service            # the service
    BENCH_PROFILE_OUT=/tmp/commands.json PORT=8001 python -m bench.profile_service baseline
    BENCH_PROFILE_OUT=/tmp/commands.json PORT=8002 python -m bench.profile_service bg-service
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import threading
from typing import Any

from pymongo import monitoring

_FILTER_OF = {"find": "filter", "count": "query", "findAndModify": "query", "delete": None, "aggregate": None}


def shape(command_name: str, command: dict[str, Any]) -> str:
    collection = command.get(command_name)
    if command_name == "update":
        updates = command.get("updates") or [{}]
        query = updates[0].get("q", {})
        changed = sorted({key for update in updates for op in update.get("u", {}).values() for key in op})
        return f"update {collection} {_keys(query)} → {_fields(changed)}"
    if command_name == "insert":
        return f"insert {collection}"
    if command_name == "findAndModify":
        return f"findAndModify {collection} {_keys(command.get('query', {}))}"
    if command_name in ("find", "count"):
        query = command.get(_FILTER_OF[command_name]) or {}
        sort = command.get("sort")
        sorted_by = f" sort {_keys(sort)}" if sort else ""
        limit = f" limit {command['limit']}" if command.get("limit") else ""
        return f"{command_name} {collection} {_keys(query)}{sorted_by}{limit}"
    return f"{command_name} {collection if isinstance(collection, str) else ''}".strip()


def _keys(document: dict[str, Any]) -> str:
    return "{" + ",".join(document) + "}"


def _fields(names: list[str]) -> str:
    """Progress, status and lease writes differ in the fields they set; positional run fields merge."""
    merged = sorted({name.split(".")[0] if name.startswith("runs.") else name for name in names})
    return "{" + ",".join(merged[:6]) + (",..." if len(merged) > 6 else "") + "}"


class CommandTimer(monitoring.CommandListener):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, int], str] = {}
        self.durations: dict[str, list[float]] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        with self._lock:
            self._pending[(event.connection_id, event.request_id)] = shape(event.command_name, event.command)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._done(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event)

    def _done(self, event: monitoring.CommandSucceededEvent | monitoring.CommandFailedEvent) -> None:
        with self._lock:
            name = self._pending.pop((event.connection_id, event.request_id), event.command_name)
            self.durations.setdefault(name, []).append(event.duration_micros / 1000)

    def report(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                name: {
                    "count": len(values),
                    "total_ms": round(sum(values), 1),
                    "median_ms": round(statistics.median(values), 2),
                    "max_ms": round(max(values), 1),
                }
                for name, values in self.durations.items()
            }


BASELINE_APPS = {"baseline": "bench.baseline_app:create_app", "bg-service": "bench.baseline_service:create_app"}


def main() -> None:
    timer = CommandTimer()
    monitoring.register(timer)
    target = os.environ.get("BENCH_PROFILE_OUT")

    def dump() -> None:
        if target:
            with open(target, "w", encoding="utf-8") as out:
                json.dump(timer.report(), out, indent=1)

    def dump_and_exit(signum: int, frame: object) -> None:
        # uvicorn restores this handler and raises the signal again once it has shut down.
        dump()
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, dump_and_exit)
    signal.signal(signal.SIGINT, dump_and_exit)
    if sys.argv[1:2] and sys.argv[1] in BASELINE_APPS:
        import uvicorn

        port = int(os.environ.get("PORT", "8001"))
        uvicorn.run(BASELINE_APPS[sys.argv[1]], factory=True, host="127.0.0.1", port=port, log_level="warning")
    else:
        import main as service

        service.serve()
    dump()


if __name__ == "__main__":
    main()
