"""One database look shared by every caller that asks within a short time (a per-process single flight).

Many open console tabs and API clients polling the same numbers must not each cost a query: within
`ttl` seconds of a look's start every caller gets that look's answer, and callers arriving while it is
under way wait for it instead of starting their own. So a replica makes at most one look per key per
`ttl`, whatever the number of pollers. A look that fails is not kept: every caller waiting on it gets
the error, and the next caller tries again. A caller that is cancelled does not cancel the look the
others wait on.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    started: float
    task: asyncio.Task[T]


class SharedLook(Generic[T]):
    """`await look.get(key, fetch)`: `fetch()`'s answer, shared by all callers of `key` for `ttl` s."""

    def __init__(self, ttl: float, max_keys: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self.looks = 0  # fetches started, for tests and metrics

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        now = self._clock()
        entry = self._entries.get(key)
        fresh = entry is not None and (not entry.task.done() or now - entry.started < self.ttl)
        if entry is not None and entry.task.done() and not entry.task.cancelled() and entry.task.exception():
            fresh = False  # a failed look is never served again
        if not fresh:
            entry = _Entry(now, asyncio.ensure_future(fetch()))
            entry.task.add_done_callback(_retrieve)
            self.looks += 1
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        assert entry is not None
        # Shielded: a caller that gives up (a closed tab) leaves the look running for the others.
        return await asyncio.shield(entry.task)

    def forget(self, key: Hashable) -> None:
        """Drop what is kept for `key`: the next caller looks again."""
        self._entries.pop(key, None)


def _retrieve(task: asyncio.Task[object]) -> None:
    # Mark the error as seen: when every caller gave up, nobody else would, and asyncio would warn.
    if not task.cancelled():
        task.exception()
