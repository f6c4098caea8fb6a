"""The long-lived handles a process holds, built once in the lifespan and handed to processors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from shared.db import Database
from shared.fabric import FabricApi
from shared.metrics import Metrics
from shared.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    fabric_api: FabricApi
    metrics: Metrics


async def get_services(request: Request) -> Services:
    # `async` on purpose (like every `get_*` dependency): FastAPI runs a plain `def` dependency in a
    # worker thread, a thread hop per request for a field read.
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
