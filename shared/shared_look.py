"""One database look shared by every caller that asks within a short time (a per-process single flight).

Many open console tabs and API clients polling the same numbers must not each cost a query: within
`ttl` seconds of a look's end every caller gets that look's answer, and callers arriving while it is
under way wait for it instead of starting their own (or, with `max_stale`, get the previous answer at
once). So a replica makes at most one look per key per `ttl`, whatever the number of pollers. A look
that fails is not kept: every caller waiting on it gets the error, and the next caller tries again. A
caller that is cancelled does not cancel the look the others wait on.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    task: asyncio.Task[T] | None = None  # the look under way, if any
    value: T | None = None
    has_value: bool = False
    finished: float = 0.0  # when the look that gave `value` ended


class SharedLook(Generic[T]):
    """`await look.get(key, fetch)`: `fetch()`'s answer, shared by all callers of `key` for `ttl` s.

    The time counts from the end of a look, not its start: a look slower than `ttl` (a big
    collection on a small server) is then never followed at once by the next one, so the database
    spends at most half its time on it, however many callers wait. With `max_stale` > 0, a caller
    that finds the answer older than `ttl` (but younger than `max_stale`) gets it at once while the
    next look runs for the callers after it (stale while revalidate): only the first caller ever
    waits for a slow look."""

    def __init__(
        self, ttl: float, max_stale: float = 0.0, max_keys: int = 64, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_stale = max_stale
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self.looks = 0  # fetches started, for tests and metrics

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        self._entries.move_to_end(key)
        age = self._clock() - entry.finished
        if entry.has_value and age < self.ttl:
            return entry.value  # type: ignore[return-value]
        task = entry.task
        if task is None:
            task = entry.task = asyncio.ensure_future(fetch())
            task.add_done_callback(partial(self._ended, entry))
            self.looks += 1
        if entry.has_value and age < self.max_stale:
            return entry.value  # type: ignore[return-value]
        # Shielded: a caller that gives up (a closed tab) leaves the look running for the others.
        return await asyncio.shield(task)

    def _ended(self, entry: _Entry[T], task: asyncio.Task[T]) -> None:
        entry.task = None
        # Reading the error marks it as seen: when every caller gave up, asyncio would warn of it.
        if task.cancelled() or task.exception() is not None:
            return  # a failed look is never served: the next caller looks again
        entry.value, entry.has_value, entry.finished = task.result(), True, self._clock()

    def forget(self, key: Hashable) -> None:
        """Drop what is kept for `key`: the next caller looks again."""
        self._entries.pop(key, None)
