"""Prometheus metrics of one process: HTTP traffic, job runs, Fabric pushes, and the queue.

Each app gets its own registry (tests build many apps in one process). Counters and histograms are
updated as things happen; the job and queue gauges are read from the database when `/metrics` is
scraped, so they are the same whichever replica answers.
"""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_CONVERTOR = re.compile(r":[a-z]+}")
JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "ai_spark_http_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "ai_spark_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.job_runs = Counter(
            "ai_spark_job_runs",
            "Job runs ended in this process, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "ai_spark_job_run_duration_seconds",
            "Duration of job runs in this process, by kind and outcome",
            ["kind", "outcome"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.fabric_pushes = Counter(
            "ai_spark_fabric_pushes",
            "Insight pushes to Fabric by outcome (2xx, 4xx, 429, 5xx, timeout, connection_error)",
            ["outcome"],
            registry=self.registry,
        )
        self.jobs = Gauge(
            "ai_spark_jobs",
            "Jobs in the database by kind and status",
            ["kind", "status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "ai_spark_queue_depth",
            "Pending jobs by kind",
            ["kind"],
            registry=self.registry,
        )
        self.oldest_pending = Gauge(
            "ai_spark_oldest_pending_age_seconds",
            "Age of the oldest pending job (0 when none)",
            registry=self.registry,
        )

        self.periodic_runs = Gauge(
            "ai_spark_periodic_task_runs",
            "Runs of each periodic task by outcome, across all replicas (from the database)",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.periodic_counts = Gauge(
            "ai_spark_periodic_task_counts",
            "What periodic tasks did, summed over their runs across all replicas (retention: jobs_deleted, ...)",
            ["task", "count"],
            registry=self.registry,
        )

    def job_ended(self, kind: str, outcome: str, seconds: float) -> None:
        self.job_runs.labels(kind, outcome).inc()
        self.job_duration.labels(kind, outcome).observe(seconds)

    def fabric_push(self, outcome: str) -> None:
        self.fabric_pushes.labels(outcome).inc()

    def set_job_counts(self, counts: dict[tuple[str, str], int], stats: dict[str, Any]) -> None:
        self.jobs.clear()
        for (kind, status), count in counts.items():
            self.jobs.labels(kind, status).set(count)
        for kind, depth in stats["queued"].items():
            self.queue_depth.labels(kind).set(depth)
        self.oldest_pending.set(stats["oldest_pending_age_seconds"] or 0)

    def set_periodic(self, documents: list[dict[str, Any]]) -> None:
        """The periodic tasks' documents (`shared.periodic.periodic_stats`) as gauges."""
        self.periodic_runs.clear()
        self.periodic_counts.clear()
        for document in documents:
            for outcome, runs in (document.get("outcomes") or {}).items():
                self.periodic_runs.labels(document["_id"], outcome).set(runs)
            for name, value in (document.get("counts") or {}).items():
                self.periodic_counts.labels(document["_id"], name).set(value)


def push_outcome(status: int | None, error: str | None = None) -> str:
    """A push's outcome class: the status class, 429 apart, or the kind of transport failure."""
    if status is None:
        return error or "connection_error"
    if status == 429:
        return "429"
    return f"{status // 100}xx"


class HttpMetricsMiddleware:
    """Counts and times every request by its route template (`/spark/{spark_id}`), never its raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            self.metrics.http_requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.http_duration.labels(scope["method"], route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """`/spark/{spark_id}/status` for any id: labels stay few whatever the traffic."""
    path = getattr(scope.get("route"), "path", None)
    return _CONVERTOR.sub("}", path) if path else "unmatched"


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
