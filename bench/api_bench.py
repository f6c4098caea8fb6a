"""API load benchmark: requests/s, p50 and p99 of the service's hot routes against a bare baseline.

    .venv/bin/python -m bench.api_bench [--clients 32] [--seconds 20] [--repeat 1]

For each route — `POST /spark` (a tiny work order), `GET /spark/{id}/status` and
`GET /spark?repo_guid=` — 32 concurrent keep-alive clients hit the service for 20 s, then do the same
against `bench/api_baseline.py`, a bare FastAPI app doing one `insert_one` or one `find_one` per
request on the same database server. Every (target, route) pair gets a fresh process and database
so neither inherits the other's documents. The service runs with `EXPORT_CONCURRENCY=0` and
`IMPORT_CONCURRENCY=0` (an API-only process), so job processing does not compete for the CPU: the
API is what is measured. Targets: ≥ 0.8 × the baseline's requests/s on each route, p99 ≤ 50 ms.

The database is the embedded FerretDB (started here) unless `MONGODB_URL` is set. The load generator
runs in this process, on the same machine, for both targets alike.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pymongo import MongoClient

from bench.processes import BenchProcess, uvicorn_argv
from tools.embedded_mongo import EmbeddedMongo

ROUTES = ("POST /spark", "GET /spark/{id}/status", "GET /spark?repo_guid=")
TINY_ORDER = {
    "repo_guid": "bench-repo",
    "inputs": {"full_path": "/bench/clip.mov"},
    "outputs": {"markers": {"formats": ["json"]}},
    "user_inputs": {"llm_instructions": False},
}
LIST_REPO = "bench-list"
SEEDED_FOR_STATUS = 500
SEEDED_FOR_LIST = 300


@dataclass
class Result:
    target: str
    route: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def say(message: str) -> None:
    print(f"[api_bench] {message}", file=sys.stderr, flush=True)


async def hammer(
    url: str,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    clients: int,
    seconds: float,
    result: Result,
) -> None:
    """`clients` loops sending `request` back to back until the time is up."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        deadline = time.perf_counter() + seconds

        async def client_loop() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await request(http)
                except httpx.TransportError:
                    # A dropped connection is an error of the target, counted, not the end of the run.
                    result.errors += 1
                    continue
                if response.status_code >= 400:
                    result.errors += 1
                else:
                    result.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(clients)))
        result.seconds = time.perf_counter() - started


async def seed(url: str, count: int, repo_guid: str) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        ids = []
        for _ in range(count):
            response = await http.post("/spark", json={**TINY_ORDER, "repo_guid": repo_guid})
            response.raise_for_status()
            ids.append(response.json()["spark_id"])
        return ids


async def measure_route(url: str, route: str, clients: int, seconds: float, result: Result) -> None:
    if route == "POST /spark":
        await hammer(url, lambda http: http.post("/spark", json=TINY_ORDER), clients, seconds, result)
    elif route == "GET /spark/{id}/status":
        ids = await seed(url, SEEDED_FOR_STATUS, "bench-repo")
        await hammer(url, lambda http: http.get(f"/spark/{random.choice(ids)}/status"), clients, seconds, result)
    else:
        await seed(url, SEEDED_FOR_LIST, LIST_REPO)
        await hammer(
            url,
            lambda http: http.get("/spark", params={"repo_guid": LIST_REPO, "limit": 100}),
            clients,
            seconds,
            result,
        )


def start_target(target: str, mongodb_url: str, workdir: Path) -> tuple[BenchProcess, str]:
    database = f"bench_api_{target}_{uuid.uuid4().hex[:8]}"
    env = {
        "MONGODB_URL": mongodb_url,
        "MONGODB_DB_NAME": database,
        "FABRIC_CATALOG_DB": database + "_catalog",
        "EXPORT_BASE_PATH": str(workdir / "exports"),
        "IMPORT_BASE_PATH": str(workdir / "imports"),
        "EXPORT_CONCURRENCY": "0",
        "IMPORT_CONCURRENCY": "0",
        "LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "test",
    }
    service = [sys.executable, "main.py"]
    argv = service if target == "service" else uvicorn_argv("bench.api_baseline:create_app")
    process = BenchProcess(target, argv, env, workdir / f"{target}.log", "/health").start()
    return process, database


def run_one(target: str, route: str, mongodb_url: str, workdir: Path, clients: int, seconds: float) -> Result:
    process, database = start_target(target, mongodb_url, workdir)
    result = Result(target, route, seconds)
    try:
        asyncio.run(measure_route(process.url, route, clients, seconds, result))
    finally:
        process.stop()
        with MongoClient(mongodb_url) as client:
            client.drop_database(database)
    say(
        f"{route:<24} {target:<8} {result.requests_per_second:8.1f} req/s  p50 {result.percentile(0.5):6.1f} ms"
        f"  p99 {result.percentile(0.99):6.1f} ms  errors {result.errors}"
    )
    return result


def table(results: list[Result], database: str) -> str:
    lines = [
        f"API load benchmark on {database}",
        f"{'route':<24} {'target':<9} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f" {'vs baseline':>12} {'targets':>8}",
    ]
    for route in ROUTES:
        rows = {
            target: [r for r in results if r.route == route and r.target == target]
            for target in ("service", "baseline")
        }
        baseline_rps = statistics.median(r.requests_per_second for r in rows["baseline"])
        for target in ("service", "baseline"):
            for row in rows[target]:
                ratio = row.requests_per_second / baseline_rps if baseline_rps else float("nan")
                met = ""
                if target == "service":
                    met = "met" if ratio >= 0.8 and row.percentile(0.99) <= 50 else "missed"
                lines.append(
                    f"{route:<24} {target:<9} {len(row.latencies):>9} {row.requests_per_second:>8.1f}"
                    f" {row.percentile(0.5):>8.1f} {row.percentile(0.99):>8.1f} {row.errors:>7}"
                    f" {ratio:>12.2f} {met:>8}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds; baseline and service alternate")
    args = parser.parse_args(argv)

    external = os.environ.get("MONGODB_URL")
    with tempfile.TemporaryDirectory(prefix="api-bench-") as folder:
        workdir = Path(folder)
        server = None if external else EmbeddedMongo(workdir / "ferretdb").start()
        mongodb_url = external or server.url  # type: ignore[union-attr]
        label = "MONGODB_URL" if external else "the embedded FerretDB"
        say(f"{args.clients} clients, {args.seconds:g} s per route and target, on {label}")
        results: list[Result] = []
        try:
            for round_number in range(args.repeat):
                order = ("baseline", "service") if round_number % 2 == 0 else ("service", "baseline")
                for route in ROUTES:
                    for target in order:
                        results.append(run_one(target, route, mongodb_url, workdir, args.clients, args.seconds))
        finally:
            if server is not None:
                server.stop()
    print(table(results, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
