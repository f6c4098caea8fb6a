"""Helpers for the scheduling tests that run the service as several real processes."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from tests.processes import ServiceProcess
from tests.support import synthetic_events


def wait(predicate, within: float, message: str, step: float = 0.1):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"{message} (waited {within:g} s)")


def export_order(repo_guid: str, priority: str = "normal") -> dict[str, Any]:
    """A small export of the synthetic asset `load_repos` stores for `repo_guid`."""
    return {
        "repo_guid": repo_guid,
        "inputs": {"full_path": f"/{repo_guid}/take.mov"},
        "outputs": {"events": {"formats": ["json", "srt", "edl"]}},
        "user_inputs": {"llm_instructions": False},
        "media": {"frame_rate": "25"},
        "priority": priority,
    }


def load_repos(catalog, repos: Iterable[str], events: int = 200) -> None:
    for repo in repos:
        catalog.insert_many(synthetic_events(repo, f"/{repo}/take.mov", events))


def post_all(processes: list[ServiceProcess], path: str, bodies: list[dict[str, Any]], id_field: str) -> list[str]:
    """POST every body, round robin over the processes, a few at a time; the new jobs' ids in order."""
    targets = list(zip(itertools.cycle(processes), bodies, strict=False))

    def post(target: tuple[ServiceProcess, dict[str, Any]]) -> str:
        process, body = target
        response = process.post(path, json=body)
        assert response.status_code == 202, response.text
        return response.json()[id_field]

    with ThreadPoolExecutor(max_workers=6) as pool:
        return list(pool.map(post, targets))


def intervals(documents: Iterable[dict[str, Any]]) -> list[tuple[datetime, datetime, str]]:
    """Every run of these jobs as (started, ended, job id); a run still open ends now."""
    found = []
    for job in documents:
        for run in job.get("runs", []):
            found.append(
                (
                    run["started_at"],
                    run["ended_at"] or datetime.max.replace(tzinfo=run["started_at"].tzinfo),
                    job["_id"],
                )
            )
    return found


def peak_overlap(runs: list[tuple[datetime, datetime, str]]) -> int:
    """The most runs open at one moment (an end at the very moment of a start does not overlap it)."""
    events = sorted(
        [(start, 1) for start, _, _ in runs] + [(end, -1) for _, end, _ in runs], key=lambda e: (e[0], e[1])
    )
    peak = current = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak


def runs_never_overlap(job: dict[str, Any]) -> bool:
    runs = sorted(job["runs"], key=lambda run: run["started_at"])
    return all(
        earlier["ended_at"] is not None and earlier["ended_at"] <= later["started_at"]
        for earlier, later in itertools.pairwise(runs)
    )
