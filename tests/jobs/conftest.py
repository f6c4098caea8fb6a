"""The job tests' database handle: the test's own database, with the service's indexes."""

from __future__ import annotations

import pytest

from shared.db import connect
from shared.jobs import INDEXES


@pytest.fixture
async def database(settings):
    handle = connect(settings)
    await handle.ensure_indexes(INDEXES)
    yield handle
    await handle.close()


@pytest.fixture
def mongo(settings):
    """A plain synchronous client for tests that drive real service processes."""
    from pymongo import MongoClient

    with MongoClient(settings.mongodb_url, tz_aware=True) as client:
        yield client


@pytest.fixture
def cluster(tmp_path):
    """Starts service processes (`cluster(env, name)`) and stops every one at the end of the test."""
    from tests.processes import ServiceProcess

    started: list[ServiceProcess] = []

    def start(env: dict[str, str], name: str) -> ServiceProcess:
        process = ServiceProcess(env, tmp_path / f"{name}.log", name)
        started.append(process)  # before it starts: one that never gets healthy is stopped too
        return process.start(timeout=90)

    yield start
    for process in started:
        process.stop()
