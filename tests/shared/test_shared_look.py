"""The single-flight look: concurrent callers share one fetch, an answer is kept `ttl` seconds after
its look ended (a controlled clock, no sleeping), a failure is never kept, a caller giving up does not
stop the look the others wait for, and an answer a little older is served while the next look runs."""

from __future__ import annotations

import asyncio

import pytest

from shared.shared_look import SharedLook


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """A fetch that counts its calls and, while `gate` is clear, waits."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False

    async def fetch(self) -> int:
        self.calls += 1
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("database hiccup")
        return self.calls


async def test_concurrent_callers_share_one_fetch() -> None:
    look: SharedLook[int] = SharedLook(ttl=1.0, clock=Clock())
    source = Source()
    source.gate.clear()
    callers = [asyncio.ensure_future(look.get("k", source.fetch)) for _ in range(20)]
    await asyncio.sleep(0)
    source.gate.set()
    assert await asyncio.gather(*callers) == [1] * 20
    assert source.calls == 1 and look.looks == 1


async def test_an_answer_is_kept_for_ttl_after_its_look_ended() -> None:
    clock = Clock()
    look: SharedLook[int] = SharedLook(ttl=1.0, clock=clock)
    source = Source()
    assert await look.get("k", source.fetch) == 1
    clock.now += 0.9
    assert await look.get("k", source.fetch) == 1
    clock.now += 0.2
    assert await look.get("k", source.fetch) == 2
    assert await look.get("other", source.fetch) == 3  # each key its own look
    assert source.calls == 3


async def test_a_slow_look_counts_its_time_from_its_end() -> None:
    clock = Clock()
    look: SharedLook[int] = SharedLook(ttl=1.0, clock=clock)
    source = Source()
    source.gate.clear()
    first = asyncio.ensure_future(look.get("k", source.fetch))
    await asyncio.sleep(0)
    clock.now += 5  # the look takes five "seconds"
    source.gate.set()
    assert await first == 1
    assert await look.get("k", source.fetch) == 1


async def test_a_failed_look_is_not_kept() -> None:
    look: SharedLook[int] = SharedLook(ttl=60.0, clock=Clock())
    source = Source()
    source.fail = True
    with pytest.raises(RuntimeError, match="hiccup"):
        await look.get("k", source.fetch)
    source.fail = False
    assert await look.get("k", source.fetch) == 2


async def test_a_caller_giving_up_leaves_the_look_to_the_others() -> None:
    look: SharedLook[int] = SharedLook(ttl=1.0, clock=Clock())
    source = Source()
    source.gate.clear()
    quitter = asyncio.ensure_future(look.get("k", source.fetch))
    stayer = asyncio.ensure_future(look.get("k", source.fetch))
    await asyncio.sleep(0)
    quitter.cancel()
    source.gate.set()
    assert await stayer == 1
    assert quitter.cancelled() and source.calls == 1


async def test_forget_and_the_key_bound() -> None:
    look: SharedLook[int] = SharedLook(ttl=60.0, max_keys=2, clock=Clock())
    source = Source()
    for key in ("a", "b", "c"):
        await look.get(key, source.fetch)
    assert await look.get("c", source.fetch) == 3
    assert await look.get("a", source.fetch) == 4  # pushed out by the bound
    look.forget("a")
    assert await look.get("a", source.fetch) == 5


async def test_with_max_stale_a_caller_gets_the_last_answer_while_the_next_look_runs() -> None:
    clock = Clock()
    look: SharedLook[int] = SharedLook(ttl=1.0, max_stale=5.0, clock=clock)
    source = Source()
    assert await look.get("k", source.fetch) == 1
    source.gate.clear()
    clock.now += 2  # past ttl, within max_stale
    assert await look.get("k", source.fetch) == 1  # at once, the look for 2 started
    assert await look.get("k", source.fetch) == 1  # still under way: no second look
    assert look.looks == 2
    source.gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await look.get("k", source.fetch) == 2
    clock.now += 10  # past max_stale: wait for a fresh one
    assert await look.get("k", source.fetch) == 3
