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
