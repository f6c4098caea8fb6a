"""Chaos soak (issue 15): three processes, 300 mixed exports and imports with priorities and a
repository cap, one process killed -9 or frozen (SIGSTOP/SIGCONT) every few seconds.

At the end every job has finished and none is lost, no two runs of a job overlap, the cap was never
exceeded (from the run records), the Fabric stub accepted each import batch once (it dedups by
`Idempotency-Key` and counts the replays), and every package reads back whole. The counts are
printed. About three minutes.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter

import httpx
import pytest

from shared.db import CATALOG_COLLECTION
from tests.jobs.cluster import export_order, intervals, load_repos, peak_overlap, runs_never_overlap, wait
from tests.package_check import check_package
from tests.processes import ServiceProcess, service_env
from tools.fabric_stub import StubConfig, serve_in_thread

pytestmark = pytest.mark.slow

LEASE = 3
CAP = 2
CHAOS_SECONDS = 75
REPOS = ["crowded", "north", "south", "east", "west"]
PRIORITIES = ["low", "normal", "normal", "high"]
HIGHLIGHTS = 12  # three batches of four
FINISHED = {"completed", "partially_completed", "failed", "cancelled"}


def import_body(repo: str, n: int, priority: str) -> dict:
    highlights = [{"comment": f"{repo} {n} #{i}", "start": i * 2.0, "end": i * 2.0 + 1.0} for i in range(HIGHLIGHTS)]
    return {
        "schemaVersion": "sdna.spark.import.v1",
        "asset": {"repo_guid": repo, "fullPath": f"/{repo}/take.mov"},
        "priority": priority,
        "highlights": highlights,
    }


def workload(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """180 exports and 120 imports; the crowded repository has a third of each."""
    exports = [
        export_order(REPOS[0] if n % 3 == 0 else rng.choice(REPOS[1:]), rng.choice(PRIORITIES)) for n in range(180)
    ]
    imports = [
        import_body(REPOS[0] if n % 3 == 0 else rng.choice(REPOS[1:]), n, rng.choice(PRIORITIES)) for n in range(120)
    ]
    return exports, imports


class Chaos:
    """Kills -9 (and restarts) or freezes one of the processes every few seconds."""

    def __init__(self, env: dict[str, str], tmp_path, rng: random.Random) -> None:
        self.env, self.tmp_path, self.rng = env, tmp_path, rng
        self.processes = [ServiceProcess(env, tmp_path / f"api{n}.log", f"api{n}") for n in range(3)]
        self.retired: list[ServiceProcess] = []
        self.done: Counter[str] = Counter()

    def start(self) -> None:
        for process in self.processes:
            process.start(timeout=90)

    def run(self, until: float, stop: threading.Event) -> None:
        while time.monotonic() < until and not stop.wait(self.rng.uniform(2, 4)):
            self.strike()

    def strike(self) -> None:
        index = self.rng.randrange(len(self.processes))
        victim = self.processes[index]
        if self.rng.random() < 0.5:
            victim.kill()
            self.retired.append(victim)
            name = f"api{index}-{self.done['kill'] + 1}"
            self.processes[index] = ServiceProcess(
                self.env, self.tmp_path / f"{name}.log", name
            ).start_without_waiting()
            self.done["kill"] += 1
        else:
            victim.signal(signal.SIGSTOP)
            time.sleep(LEASE + self.rng.uniform(0, 1.5))  # long enough for its leases to run out
            victim.signal(signal.SIGCONT)
            self.done["stop"] += 1

    def stop_all(self) -> None:
        for process in self.processes + self.retired:
            process.stop()


def test_soak_three_processes_under_kill_and_stop(settings, mongo, tmp_path) -> None:
    rng = random.Random(15)
    database = mongo[settings.mongodb_db_name]
    load_repos(mongo[settings.fabric_catalog_db][CATALOG_COLLECTION], REPOS, events=600)
    exports, imports = workload(rng)
    with serve_in_thread(StubConfig(latency_ms=400)) as stub:  # jobs long enough to be cut short
        env = service_env(
            settings,
            lease_seconds=LEASE,
            export_concurrency=3,
            import_concurrency=3,
            repo_export_concurrency=CAP,
            repo_import_concurrency=CAP,
            max_attempts=20,
            shutdown_grace_seconds=1,
            fabric_api_url=stub.url,
            fabric_import_batch_size=HIGHLIGHTS // 3,
            fabric_max_retries=3,
        )
        chaos = Chaos(env, tmp_path, rng)
        try:
            chaos.start()
            stop = threading.Event()
            striker = threading.Thread(target=chaos.run, args=(time.monotonic() + CHAOS_SECONDS, stop), daemon=True)
            striker.start()
            try:  # the jobs arrive over most of the chaos, so kills and freezes meet every stage of them
                export_ids, import_ids = submit_during(chaos, exports, imports, CHAOS_SECONDS * 0.8)
                striker.join()
            finally:
                stop.set()
                striker.join(timeout=30)
            ids = export_ids + import_ids
            wait(lambda: not unfinished(database, ids), 240, f"unfinished: {unfinished(database, ids)}", 0.5)
            stats = stub.state
            accepted, duplicates = dict(stats.accepted), stats.duplicates
        finally:
            chaos.stop_all()

    documents = {job["_id"]: job for job in database.jobs.find({"_id": {"$in": ids}})}
    statuses = Counter(job["status"] for job in documents.values())
    overlapping = [job_id for job_id, job in documents.items() if not runs_never_overlap(job)]
    peaks = {
        kind: peak_overlap(
            intervals(job for job in documents.values() if job["kind"] == kind and job["repo_guid"] == REPOS[0])
        )
        for kind in ("export", "import")
    }
    per_import: Counter[str] = Counter()
    for key, events in accepted.items():  # keys are `<import_id>:<batch index>`
        per_import[key.rsplit(":", 1)[0]] += events
    accepted_twice = [job_id for job_id in import_ids if per_import[job_id] > HIGHLIGHTS]
    missing = [job_id for job_id in import_ids if per_import[job_id] < HIGHLIGHTS]
    packages = sum(
        1
        for job_id in export_ids
        if check_package(settings.export_base_path / job_id, documents[job_id]["result"]["manifest"])
    )
    reclaimed = sum(1 for job in documents.values() if job["attempts"] > 1)
    print(
        f"soak: {chaos.done['kill']} kill -9, {chaos.done['stop']} SIGSTOP/SIGCONT; jobs {len(documents)}/{len(ids)}"
        f" {dict(statuses)}; re-run after a kill or freeze: {reclaimed}; overlapping runs: {len(overlapping)};"
        f" peak running in the capped repository: {peaks} (cap {CAP}); import batches accepted {len(accepted)},"
        f" replays refused as duplicates {duplicates}, highlights accepted twice {len(accepted_twice)},"
        f" missing {len(missing)}; packages complete"
        f" {packages}/{len(export_ids)}"
    )

    assert len(documents) == len(ids) == 300
    assert statuses == Counter({"completed": 300}), statuses
    assert overlapping == []
    assert peaks["export"] <= CAP and peaks["import"] <= CAP, peaks
    assert len(accepted) == len(import_ids) * 3 and accepted_twice == [] and missing == []
    assert packages == len(export_ids)
    assert chaos.done["kill"] + chaos.done["stop"] >= 5


def submit_during(chaos: Chaos, exports: list[dict], imports: list[dict], seconds: float) -> tuple[list, list]:
    """POST every job, spread over `seconds`, each to a random process; a process that is dead,
    restarting or frozen gets the same job again elsewhere under the same `Idempotency-Key`."""
    bodies = [("/spark", "spark_id", body) for body in exports] + [("/spark/import", "import_id", b) for b in imports]
    chaos.rng.shuffle(bodies)
    found: dict[str, list[str]] = {"spark_id": [], "import_id": []}
    pause = seconds / len(bodies)
    for number, (path, id_field, body) in enumerate(bodies):
        found[id_field].append(post_until_stored(chaos, path, body, f"soak-{number}")[id_field])
        time.sleep(pause)
    return found["spark_id"], found["import_id"]


def post_until_stored(chaos: Chaos, path: str, body: dict, key: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        process = chaos.rng.choice(chaos.processes)
        try:
            response = httpx.post(process.url + path, json=body, headers={"Idempotency-Key": key}, timeout=3)
        except httpx.HTTPError:
            continue
        if response.status_code in (200, 202):
            return response.json()
        assert response.status_code >= 500, response.text
    raise AssertionError(f"no process stored job {key}")


def unfinished(database, ids: list[str]) -> int:
    return database.jobs.count_documents({"_id": {"$in": ids}, "status": {"$nin": sorted(FINISHED)}})
