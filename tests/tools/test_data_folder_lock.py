"""A launcher's look at a data folder's lock (tools/data_folder_lock.py), without a server: the
lock is taken here as the server takes it (an exclusive flock on `server.lock`, then its record)."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

from tools.data_folder_lock import LOCK_FILE_NAME, FolderHolder, folder_holder

RECORD = b'{"pid": 4242, "listen": "127.0.0.1:4243"}\n'


def test_a_folder_without_a_lock_file_is_free(tmp_path: Path) -> None:
    assert folder_holder(tmp_path) is None
    assert folder_holder(tmp_path / "not-made-yet") is None


def test_a_lock_file_nobody_holds_is_stale_and_free(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE_NAME).write_bytes(RECORD)  # what a killed server leaves behind
    assert folder_holder(tmp_path) is None


def test_a_held_lock_names_its_holder(tmp_path: Path) -> None:
    with (tmp_path / LOCK_FILE_NAME).open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write(RECORD)
        lock.flush()
        assert folder_holder(tmp_path) == FolderHolder(4242, "127.0.0.1:4243")
    assert folder_holder(tmp_path) is None  # closing the file released the lock


def test_a_look_between_the_lock_and_its_record_waits_for_the_record(tmp_path: Path) -> None:
    with (tmp_path / LOCK_FILE_NAME).open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # taken, not yet written: the server's next step

        def write_record() -> None:
            lock.write(RECORD)
            lock.flush()

        writer = threading.Timer(0.2, write_record)
        writer.start()
        try:
            assert folder_holder(tmp_path) == FolderHolder(4242, "127.0.0.1:4243")
        finally:
            writer.join()


def test_a_held_lock_without_a_record_is_still_in_use(tmp_path: Path) -> None:
    with (tmp_path / LOCK_FILE_NAME).open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert folder_holder(tmp_path) == FolderHolder(0, "")
