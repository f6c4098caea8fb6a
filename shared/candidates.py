"""The runner's memory of jobs likely claimable, kept in queue order (`shared/priority.py`).

A look at the database, and every job submitted to this process while its slots were busy, add
candidates; a claim takes them best first. Each is claimed by one atomic update by `_id`, so a
stale candidate (claimed elsewhere meanwhile) costs one update that matches nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from shared.priority import EARLIEST, HIGH, level


@dataclass(frozen=True, order=True)
class Candidate:
    key: datetime
    job_id: str
    level: int = field(default=1, compare=False)
    repo_guid: str | None = field(default=None, compare=False)

    @classmethod
    def from_document(cls, document: dict) -> Candidate:
        return cls(
            key=document.get("queue_key") or EARLIEST,
            job_id=document["_id"],
            level=level(document.get("priority")),
            repo_guid=document.get("repo_guid"),
        )

    @property
    def is_high(self) -> bool:
        return self.level >= HIGH


class CandidateQueue:
    """Candidates sorted by `(queue_key, _id)`, each id at most once, at most `limit` of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._sorted: list[Candidate] = []
        self._ids: set[str] = set()

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, job_id: str) -> bool:
        return job_id in self._ids

    def add(self, candidate: Candidate) -> bool:
        """Insert in order; False when it is known already or the queue is full."""
        if candidate.job_id in self._ids or len(self._sorted) >= self.limit:
            return False
        bisect.insort(self._sorted, candidate)
        self._ids.add(candidate.job_id)
        return True

    def extend(self, candidates: Iterable[Candidate]) -> None:
        for candidate in candidates:
            self.add(candidate)

    def peek(self) -> Candidate | None:
        return self._sorted[0] if self._sorted else None

    def pop(self) -> Candidate | None:
        if not self._sorted:
            return None
        candidate = self._sorted.pop(0)
        self._ids.discard(candidate.job_id)
        return candidate

    def replace(self, found: list[Candidate]) -> None:
        """A fresh look: its candidates, plus the known ones that still fit beside them."""
        known = self._sorted
        self._sorted, self._ids = [], set()
        self.extend(found)
        self.extend(known)

    def ids(self) -> list[str]:
        return [candidate.job_id for candidate in self._sorted]
