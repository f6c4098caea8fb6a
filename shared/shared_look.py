"""One database look shared by every caller that asks within a short time (a per-process single flight).

Many open console tabs and API clients polling the same numbers must not each cost a query: within
`ttl` seconds of a look's end every caller gets that look's answer, and callers arriving while it is
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
from functools import partial
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    task: asyncio.Task[T]
    finished: float | None = None  # when the look ended; None while it runs


class SharedLook(Generic[T]):
    """`await look.get(key, fetch)`: `fetch()`'s answer, shared by all callers of `key` for `ttl` s.

    The time counts from the end of a look, not its start: a look slower than `ttl` (a big
    collection on a small server) is then never followed at once by the next one, so the database
    spends at most half its time on it, however many callers wait."""

    def __init__(self, ttl: float, max_keys: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry[T]] = OrderedDict()
        self.looks = 0  # fetches started, for tests and metrics

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry is None or not self._usable(entry):
            entry = _Entry(asyncio.ensure_future(fetch()))
            entry.task.add_done_callback(partial(self._ended, entry))
            self.looks += 1
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        # Shielded: a caller that gives up (a closed tab) leaves the look running for the others.
        return await asyncio.shield(entry.task)

    def _usable(self, entry: _Entry[T]) -> bool:
        if not entry.task.done():
            return True  # under way: wait for it
        if entry.task.cancelled() or entry.task.exception() is not None:
            return False  # a failed look is never served again
        return entry.finished is not None and self._clock() - entry.finished < self.ttl

    def _ended(self, entry: _Entry[T], task: asyncio.Task[T]) -> None:
        entry.finished = self._clock()
        # Mark an error as seen: when every caller gave up, nobody else would, and asyncio would warn.
        if not task.cancelled():
            task.exception()

    def forget(self, key: Hashable) -> None:
        """Drop what is kept for `key`: the next caller looks again."""
        self._entries.pop(key, None)
