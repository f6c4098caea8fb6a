"""One embedded database server per data folder: the lock the server holds, as launchers see it.

The server (tools/ferretdb/lifetime.go) holds an exclusive flock on `<data>/server.lock` for its
lifetime and records its pid and address there; the kernel drops the lock when it dies, so a lock
file left behind by a killed server means nothing. `folder_holder` is a launcher's look before it
starts one, for a clear message; the server's own lock decides.
"""

from __future__ import annotations

import fcntl
import json
import time
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE_NAME = "server.lock"  # tools/ferretdb/lifetime.go: held by the server for its lifetime
EXIT_FOLDER_IN_USE = 3  # the server's exit status when another server holds the data folder
RECORD_PATIENCE_SECONDS = 1.0


@dataclass(frozen=True)
class FolderHolder:
    """The server that holds a data folder, as its lock file records it (0 and "" if unreadable)."""

    pid: int
    listen: str


class DataFolderInUse(RuntimeError):
    def __init__(self, data_dir: Path, holder: FolderHolder) -> None:
        self.data_dir = data_dir
        self.holder = holder
        who = f"pid {holder.pid} on {holder.listen}" if holder.pid else "pid unknown"
        super().__init__(f"{data_dir} is in use by another embedded database server ({who})")


def folder_holder(data_dir: Path) -> FolderHolder | None:
    """The server holding `data_dir`, or None when none does (a stale lock file does not count).

    A launcher's early look, for a clear message before it starts anything; the server's own lock
    decides. The look is a shared flock held for an instant, which a starting server waits out. A
    server writes its record just after it takes the lock; a look in between waits for the record.
    """
    try:
        lock_file = (Path(data_dir) / LOCK_FILE_NAME).open("rb")
    except FileNotFoundError:
        return None
    deadline = time.monotonic() + RECORD_PATIENCE_SECONDS
    with lock_file:
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                lock_file.seek(0)
                holder = _read_holder(lock_file.read(4096))
                if holder is not None:
                    return holder
                if time.monotonic() > deadline:
                    return FolderHolder(0, "")
                time.sleep(0.02)
                continue
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            return None


def _read_holder(content: bytes) -> FolderHolder | None:
    try:
        record = json.loads(content)
        return FolderHolder(int(record["pid"]), str(record["listen"]))
    except (ValueError, KeyError, TypeError):
        return None
