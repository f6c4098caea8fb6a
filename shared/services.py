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


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
