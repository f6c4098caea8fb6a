"""The service with one more periodic task, a test-only recorder of its runs (`python -m
tests.jobs.periodic_service`), for the tests that run the scheduler in several real processes.

Production code cannot register it: it is added through `app.state.extra_periodic_tasks`, which only
code that builds the app itself can reach.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial

import uvicorn

from main import create_app
from shared.periodic import PeriodicRun, PeriodicTask
from shared.services import Services
from shared.settings import get_settings

TASK = "test-recorder"
INTERVAL_SECONDS = 2.0
RUN_SECONDS = 0.6  # long enough that a kill can land in the middle of a run
RUNS_COLLECTION = "periodic_test_runs"


async def record(run: PeriodicRun, services: Services) -> dict[str, int]:
    runs = services.database.collection(RUNS_COLLECTION)
    key = {"_id": run.token}
    await runs.insert_one(
        {**key, "period": run.period, "worker_id": run.worker_id, "started": time.time(), "ended": None}
    )
    await asyncio.sleep(RUN_SECONDS)
    await runs.update_one(key, {"$set": {"ended": time.time()}})
    return {"recorded": 1}


def recorder(services: Services) -> PeriodicTask:
    return PeriodicTask(TASK, INTERVAL_SECONDS, partial(record, services=services))


def main() -> None:
    settings = get_settings()
    app = create_app(settings)
    app.state.extra_periodic_tasks.append(recorder)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, timeout_graceful_shutdown=5)


if __name__ == "__main__":
    main()
