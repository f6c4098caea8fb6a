"""Job priority and its aging, as one number a database index can sort by (SPEC §7, "Priority").

A job's place in its queue is `queue_key`: the moment it counts as high priority,
`since + (HIGH − level) × PRIORITY_AGING_SECONDS`, where `since` is when it was queued. Claims take
the smallest key first. At any moment that is the job with the highest *effective* priority
`level + waited / PRIORITY_AGING_SECONDS`: a waiting job rises one level per aging period, so a low
job that has waited long enough passes newer normal ones, and nothing waits forever. Within one level
it is plain oldest-first. The key never changes while the job waits, so the order is an index walk on
MongoDB (`claim_queue` in `shared/jobs.py`) and needs no "now" in the query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"


LEVELS = {Priority.low: 0, Priority.normal: 1, Priority.high: 2}
HIGH = LEVELS[Priority.high]
DEFAULT_PRIORITY = Priority.normal
# A job stored before priorities existed has no key: it sorts first, as the oldest does.
EARLIEST = datetime.min.replace(tzinfo=UTC)


def level(priority: str | None) -> int:
    return LEVELS.get(Priority(priority or DEFAULT_PRIORITY), LEVELS[DEFAULT_PRIORITY])


def queue_key(priority: str, since: datetime, aging_seconds: float) -> datetime:
    """When a job of `priority` queued at `since` counts as high: its place in the queue."""
    return since + timedelta(seconds=(HIGH - level(priority)) * aging_seconds)
