"""A child process that Linux kills when the process that started it dies without stopping it.

`make run`'s stack stops its children in order on Ctrl-C or SIGTERM. Killed alone with -9 (or by the
OOM killer, which picks one process), it cannot: the API and the Fabric stub would run on as orphans,
holding their ports, while the embedded database goes (it watches a pipe, tools/embedded_mongo.py).
Linux's parent-death signal covers them: set in the child between fork and exec, it delivers SIGKILL
when the thread that started the child ends. The stack starts them from its main thread, which lives
as long as the process, so the thread caveat that keeps this away from the database's launcher (any
thread of a test run or a benchmark may start that one) does not apply here.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # <sys/prctl.h>


def die_with_parent() -> Callable[[], None] | None:
    """Popen's `preexec_fn` that ties the child to this process; None where Linux's prctl is absent."""
    if sys.platform != "linux":
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child must not load libraries
    return functools.partial(_set_parent_death_signal, libc.prctl, os.getpid())


def _set_parent_death_signal(prctl: Callable[[int, int], int], parent: int) -> None:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the signal was armed: go now
        os._exit(1)
