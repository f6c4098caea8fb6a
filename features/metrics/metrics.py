"""`GET /metrics` — this process's metrics in the Prometheus text format.

Protected by `X-API-Key` like the rest of the API when `API_KEYS` is set: the scraper sends the header
(see the README's operations section). Job and queue gauges
are read from the database at scrape time; if it is down they keep their last values and the scrape
still answers.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import PyMongoError

from shared.db import DatabaseDep
from shared.jobs import job_counts, queue_stats
from shared.metrics import MetricsDep
from shared.periodic import periodic_stats
from shared.problems import problem_responses

log = logging.getLogger("ai_spark.metrics")
router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
        **problem_responses(401),
    },
    summary="Prometheus metrics: HTTP traffic, job runs and queue, Fabric pushes",
)
async def metrics(database: DatabaseDep, registry: MetricsDep) -> Response:
    try:
        registry.set_job_counts(await job_counts(database), await queue_stats(database))
        registry.set_periodic(await periodic_stats(database))
    except PyMongoError as error:
        log.warning("job gauges not refreshed: the database is unreachable", extra={"error": str(error)[:200]})
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
