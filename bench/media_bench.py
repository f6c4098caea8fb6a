"""Subclips at scale: one export cutting N subclips from a long 1080p H.264 file, stream copy and
accurate re-encode, with `GET /spark/{id}/status` polled throughout to show the event loop stays free.

    python -m bench.media_bench [--clips 100] [--minutes 10] [--concurrency 1]

The source (1920×1080, 25 fps, H.264 + AAC stereo, timecode 01:00:00:00, a keyframe every 2 s) is made
once by ffmpeg from its test sources and kept in `.build/bench-media/`. The service runs as
`python main.py` against the embedded FerretDB (or MONGODB_URL), MEDIA_CONCURRENCY as given. CPU time
is the service's own plus that of the ffmpeg children it reaped (`/proc/<pid>/stat` utime, stime,
cutime, cstime). Prints a table; the target for the status p99 is 50 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pymongo import MongoClient

from bench.processes import ROOT, BenchProcess, service_argv
from shared.db import CATALOG_COLLECTION
from tools.embedded_mongo import EmbeddedMongo

CACHE = ROOT / ".build" / "bench-media"
REPO_GUID = "bench-media"
STATUS_TARGET_MS = 50.0


def source_file(minutes: int) -> Path:
    target = CACHE / f"source_1080p_{minutes}min.mov"
    if target.is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    seconds = minutes * 60
    progress(f"making the {minutes}-minute 1080p source once (cached in {CACHE})")
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=25:duration={seconds}"]
    command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    command += ["-af", "aformat=channel_layouts=stereo", "-c:a", "aac", "-b:a", "128k"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p"]
    command += ["-timecode", "01:00:00:00", "-shortest", "-f", "mov", str(partial)]
    try:
        subprocess.run(command, check=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def comments(full_path: str, clips: int, minutes: int) -> list[dict]:
    spacing = minutes * 60 / clips
    return [
        {
            "repoGuid": REPO_GUID,
            "fullPath": full_path,
            "sdnaEventType": "comment",
            "eventValue": f"clip {n}",
            "start": round(n * spacing + 0.37, 3),
            "end": round(n * spacing + 0.37 + min(3.0, spacing * 0.6), 3),
        }
        for n in range(clips)
    ]


def cpu_with_children(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def run_mode(service: BenchProcess, full_path: str, accurate: bool) -> dict:
    order = {
        "repo_guid": REPO_GUID,
        "inputs": {"full_path": full_path},
        "user_inputs": {"llm_instructions": False},
        "media": {"subclips": {"enabled": True, "source": ["comments"], "handle_seconds": 0, "accurate": accurate}},
    }
    assert service.process is not None
    cpu_before = cpu_with_children(service.process.pid)
    latencies: list[float] = []
    with httpx.Client(base_url=service.url, timeout=30) as http:
        started = time.perf_counter()
        response = http.post("/spark", json=order)
        response.raise_for_status()
        status_url = response.json()["links"]["status"]
        while True:
            sent = time.perf_counter()
            body = http.get(status_url).json()
            latencies.append((time.perf_counter() - sent) * 1000)
            if body["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
        job = http.get(f"/spark/{response.json()['spark_id']}").json()
    if job["status"] != "completed":
        raise RuntimeError(f"the export ended {job['status']}: {job.get('error')}")
    written = job["manifest"]["counts"]["subclips"]
    return {
        "mode": "accurate" if accurate else "copy",
        "clips": written,
        "wall": wall,
        "clips_per_second": written / wall,
        "cpu": cpu_with_children(service.process.pid) - cpu_before,
        "status_p50": statistics.median(latencies),
        "status_p99": percentile(latencies, 0.99),
        "polls": len(latencies),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(rows: list[dict], concurrency: int) -> str:
    header = ["mode", "clips", "wall s", "clips/s", "CPU s", "status p50 ms", "status p99 ms", "polls", "p99 ≤ 50 ms"]
    lines = [
        [
            row["mode"],
            str(row["clips"]),
            f"{row['wall']:.1f}",
            f"{row['clips_per_second']:.2f}",
            f"{row['cpu']:.1f}",
            f"{row['status_p50']:.1f}",
            f"{row['status_p99']:.1f}",
            str(row["polls"]),
            "yes" if row["status_p99"] <= STATUS_TARGET_MS else "no",
        ]
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=True)]
    render = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    title = f"media_bench: MEDIA_CONCURRENCY={concurrency}, {os.cpu_count()} CPUs (shared machine: indicative)"
    return "\n".join([title, render(header), rule, *(render(line) for line in lines)])


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.media_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1, help="MEDIA_CONCURRENCY of the service")
    parser.add_argument("--modes", default="copy,accurate")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    source = source_file(args.minutes)
    workdir = Path(tempfile.mkdtemp(prefix="ai-spark-media-bench-"))
    external = os.environ.get("MONGODB_URL")
    server = None if external else EmbeddedMongo(workdir / "ferretdb", log_path=workdir / "ferretdb.log").start()
    url = external or server.url  # type: ignore[union-attr]
    run_id = uuid.uuid4().hex[:8]
    names = (f"media_bench_{run_id}", f"media_bench_{run_id}_catalog")
    service = None
    try:
        full_path = f"/{source.name}"
        with MongoClient(url) as client:
            client[names[1]][CATALOG_COLLECTION].insert_many(comments(full_path, args.clips, args.minutes))
        env = {
            "MONGODB_URL": url,
            "MONGODB_DB_NAME": names[0],
            "FABRIC_CATALOG_DB": names[1],
            "EXPORT_BASE_PATH": str(workdir / "exports"),
            "MEDIA_ROOTS": str(source.parent),
            "MEDIA_CONCURRENCY": str(args.concurrency),
            "ENVIRONMENT": "test",
            "LOG_LEVEL": "WARNING",
            "JOB_TIMEOUT_SECONDS": "7200",
        }
        service = BenchProcess("service", service_argv(), env, workdir / "service.log", "/health").start()
        rows = []
        for mode in args.modes.split(","):
            progress(f"{args.clips} subclips, {mode}")
            rows.append(run_mode(service, full_path, accurate=mode.strip() == "accurate"))
        print(table(rows, args.concurrency))
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if service is not None:
            service.stop()
        if external:
            with MongoClient(url) as client:
                for name in names:
                    client.drop_database(name)
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
