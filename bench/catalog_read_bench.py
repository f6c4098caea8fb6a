"""The catalog read alone (issue 14): `read_catalog` beside the unsorted floor, before and after in one run.

    .venv/bin/python -m bench.catalog_read_bench [--scale 1.0] [--repeat 2] [--side NAME=CHECKOUT ...]
                                                 [--gc default|freeze|settle|off]

The export bench's asset (127,000 documents at scale 1, seed 17) is loaded once into an embedded
FerretDB. Then each side (a checkout: this one, and e.g. `base=/path/to/other/checkout`) runs in a
fresh Python process with that checkout as its working directory, alternating sides `--repeat` times:

- the floor: a bare synchronous PyMongo `find` of the export's filter, unsorted, iterated to the end
  (wall, this process's CPU, the database's CPU);
- `read_catalog` with an `AsyncMongoClient`, the GIL switch interval set as the service sets it: wall,
  this process's CPU, the database's CPU, and the event loop's lag (a coroutine sleeping 5 ms in a
  loop, recording the overshoot: p50 / p99 / max).

Also counted: the garbage collector's full (generation 2) passes during the read and their time.
`--gc freeze` calls `gc.freeze()` before the read, `--gc settle` also after every batch (what the
export does, `shared.heap.settle`), `--gc off`
disables the collector during it: measurements of what the collector costs, not a setting to ship.

CPU-seconds are robust to other load on the machine; walls and lags are not: the load average is
printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def database_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


def child(url: str, database: str, db_pid: int, collector: str) -> None:
    """One side's measurements, in the checkout that is the working directory."""
    sys.path.insert(0, os.getcwd())
    import asyncio
    import gc

    passes: list[float] = []
    began = [0.0]

    def timed(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                began[0] = time.perf_counter()
            else:
                passes.append(time.perf_counter() - began[0])

    from pymongo import AsyncMongoClient, MongoClient

    from bench.export_bench import FULL_PATH, REPO_GUID
    from main import GIL_SWITCH_SECONDS
    from shared.db import CATALOG_COLLECTION, scoped_filter
    from shared.fabric import read_catalog

    sys.setswitchinterval(GIL_SWITCH_SECONDS)  # as the service runs

    out: dict[str, float] = {}
    query = scoped_filter(REPO_GUID, fullPath=FULL_PATH)
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        collection = client[database][CATALOG_COLLECTION]
        collection.find_one(query)  # connection warm
        cpu, db, started = time.process_time(), database_cpu(db_pid), time.perf_counter()
        count = sum(1 for _ in collection.find(query).batch_size(1000))
        out["floor_wall"] = time.perf_counter() - started
        out["floor_cpu"] = time.process_time() - cpu
        out["floor_db_cpu"] = database_cpu(db_pid) - db
        out["documents"] = count

    async def measure() -> None:
        client = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
        collection = client[database][CATALOG_COLLECTION]
        await collection.find_one(query)
        lags: list[float] = []
        done = False

        async def probe() -> None:
            while not done:
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append((time.perf_counter() - before - 0.005) * 1000)

        progress: list[int] = []

        async def on_read(documents: int) -> None:
            progress.append(documents)
            if collector == "settle":
                gc.freeze()  # what the export's progress callback does (shared.heap.settle)

        task = asyncio.create_task(probe())
        await asyncio.sleep(0.05)
        lags.clear()
        if collector in ("freeze", "settle"):
            gc.freeze()
        elif collector == "off":
            gc.disable()
        gc.callbacks.append(timed)
        cpu, db, started = time.process_time(), database_cpu(db_pid), time.perf_counter()
        read = await read_catalog(collection, REPO_GUID, FULL_PATH, on_read=on_read)
        out["read_wall"] = time.perf_counter() - started
        out["read_cpu"] = time.process_time() - cpu
        out["read_db_cpu"] = database_cpu(db_pid) - db
        gc.callbacks.remove(timed)
        gc.enable()
        out["gc2_passes"] = len(passes)
        out["gc2_ms"] = sum(passes) * 1000
        out["gc2_max_ms"] = max(passes, default=0.0) * 1000
        done = True
        await task
        out["events"] = len(read.events)
        out["warnings"] = len(read.warnings)
        out["progress_calls"] = len(progress)
        out["lag_p50"] = percentile(lags, 0.5)
        out["lag_p99"] = percentile(lags, 0.99)
        out["lag_max"] = max(lags)
        await client.close()

    asyncio.run(measure())
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--side", action="append", default=[], help="NAME=CHECKOUT (default: this=this checkout)")
    parser.add_argument("--gc", choices=("default", "freeze", "settle", "off"), default="default")
    parser.add_argument("--child", nargs=4, metavar=("URL", "DATABASE", "DB_PID", "GC"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]), args.child[3])
        return

    from bench.export_bench import catalog_documents, generate_asset, load_catalog
    from tools.embedded_mongo import EmbeddedMongo

    sides = [tuple(side.split("=", 1)) for side in args.side] or [("this", str(ROOT))]
    counts = {
        name: round(count * args.scale)
        for name, count in {"transcript": 20000, "events": 100000, "comments": 5000, "markers": 2000}.items()
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedMongo(Path(tmp) / "data").start()
        try:
            database = "catalog_read_bench"
            loaded = load_catalog(server.url, database, catalog_documents(generate_asset(counts, 17)))
            print(f"loaded {sum(counts.values()):,} documents in {loaded:.1f} s", file=sys.stderr)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
            for _ in range(args.repeat):
                for name, checkout in sides:
                    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
                    command += [server.url, database, str(server.process.pid), args.gc]
                    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=True)
                    runs[name].append(json.loads(done.stdout))
                    print(name, done.stdout.strip(), file=sys.stderr)
        finally:
            server.stop()
    load = os.getloadavg()
    print(f"catalog read, {sum(counts.values()):,} documents, gc {args.gc}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    columns = ("read_wall", "floor_wall", "ratio", "read_cpu", "floor_cpu", "read_db_cpu", "floor_db_cpu")
    columns += ("lag_p50", "lag_p99", "lag_max", "gc2_passes", "gc2_ms", "gc2_max_ms")
    print(f"{'side':<14}" + "".join(f"{column:>12}" for column in columns))
    for name, results in runs.items():
        for result in results:
            result["ratio"] = result["read_wall"] / result["floor_wall"]
            print(f"{name:<14}" + "".join(f"{result[column]:>12.3f}" for column in columns))
        medians = [percentile([result[column] for result in results], 0.5) for column in columns]
        print(f"{name + ' median':<14}" + "".join(f"{median:>12.3f}" for median in medians))


if __name__ == "__main__":
    main()
