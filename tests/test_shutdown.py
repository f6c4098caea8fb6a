"""The lifespan's shutdown steps are bounded: a step stuck for good is left behind, said in the log,
and the steps after it still run, so a process always exits and frees its port."""

from __future__ import annotations

import asyncio
import logging

import pytest

from main import stop_within


async def test_a_step_that_swallows_its_cancellation_is_left_behind_within_its_bound(caplog) -> None:
    release = asyncio.Event()

    async def stuck_for_good() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue  # what a driver retrying through a cancel looks like

    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.ERROR, logger="ai_spark"):
        await stop_within("the stuck step", stuck_for_good(), 0.2)
    waited = loop.time() - started

    assert waited < 5  # a bound, not a timing: without one this await never returns
    assert "the stuck step did not stop within" in caplog.text
    assert "stuck_for_good" in caplog.records[-1].stack  # where it was stuck, for whoever reads the log
    release.set()
    await asyncio.sleep(0.2)  # it ends now: no task left pending after the test


async def test_a_step_that_ends_in_time_gives_its_error_as_before() -> None:
    async def fails() -> None:
        raise RuntimeError("closing failed")

    with pytest.raises(RuntimeError, match="closing failed"):
        await stop_within("a failing step", fails(), 5)
