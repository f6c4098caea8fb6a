"""The export's files are written on threads of their own, below the event loop's OS priority."""

from __future__ import annotations

import contextvars
import os
import sys
import threading

import pytest

from features.create_export import writing

marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


def where_and_how_nice() -> tuple[str, int, str]:
    niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    return threading.current_thread().name, niceness, marker.get()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="niceness is per thread on Linux only")
async def test_a_writer_thread_is_nicer_than_the_loop_and_keeps_the_callers_context() -> None:
    marker.set("the caller's")
    loop_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    name, niceness, seen = await writing.in_writer_thread(where_and_how_nice)
    assert name.startswith("export-writer")
    assert niceness == min(loop_niceness + writing.WRITER_NICENESS, 19)
    assert seen == "the caller's"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_niceness  # the loop's own
