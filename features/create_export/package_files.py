"""A package's files written in one pass (issue 14): each byte goes to the build folder, the file's
SHA-256 and its deflated entry in the package zip as it is written, never read back.

Writing a file, then reading it back to hash it and again to zip it, kept every byte of the package in
the page cache, and on this machine putting a fresh page there costs more than the writer that fills
it (300 MB of SRT cues: ~1 s of kernel time, against 0.1 s for the same pages reused). Read back
never, a file's pages can go once they are on disk: every `DROP_BEHIND` bytes the file is synced and
its cached pages are let go, so the next pages written reuse them. A package of any size then holds
a few MB of the page cache at a time, and the files are on disk before the package is published.

Files not written through `timeline.open_output` (the spreadsheet, media cut by ffmpeg, the LLM files,
the manifest) are added to the zip when it is sealed, read from the folder as before.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from time import localtime
from typing import IO

from features.create_export import package
from features.create_export.timeline import outputs_through

# Bytes of a file written between two syncs that let its cached pages go (a few syscalls a second).
DROP_BEHIND = 16 * 1024 * 1024
# What `ZipInfo.from_file` records for a file the service wrote (a regular file, rw-r--r--).
FILE_ATTRIBUTES = (0o100644 & 0xFFFF) << 16


@contextmanager
def streaming(build: package.PackageBuild) -> Iterator[None]:
    """In this block (one package step, in its thread), a writer's file in the build folder is
    written in one pass into the folder, its digest and the zip."""

    def sink_for(path: Path) -> io.RawIOBase | None:
        return OnePassFile(build, path) if path.is_relative_to(build.folder) else None

    with outputs_through(sink_for):
        yield


class OnePassFile(io.RawIOBase):
    """A raw stream writing a package file, its SHA-256 and its zip entry at once."""

    def __init__(self, build: package.PackageBuild, path: Path) -> None:
        super().__init__()
        self._build, self._path = build, path
        self._file = path.open("wb", buffering=0)
        self._digest = hashlib.sha256()
        self._entry = _open_entry(package.open_archive(build), path.relative_to(build.folder).as_posix())
        self._unsynced = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        written = 0
        while written < len(view):  # a regular file takes it all at once; a short write is retried
            written += self._file.write(view[written:]) or 0
        self._digest.update(view)
        self._entry.write(view)
        self._unsynced += len(view)
        if self._unsynced >= DROP_BEHIND:
            _let_pages_go(self._file.fileno())
            self._unsynced = 0
        return len(view)

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._entry.close()
        finally:
            self._file.close()
            super().close()
        self._build.digests[self._path] = self._digest.hexdigest()


def _open_entry(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    """A deflated entry opened for streaming (size unknown: zip64 sizes in its local header)."""
    info = zipfile.ZipInfo(name, date_time=localtime()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = FILE_ATTRIBUTES
    entry = archive.open(info, "w", force_zip64=True)
    package.deflate_with_isal(entry)
    return entry


def _let_pages_go(descriptor: int) -> None:
    """Sync what is written and drop it from the page cache (where the OS offers it; a hint only)."""
    if not hasattr(os, "posix_fadvise"):
        return
    os.fdatasync(descriptor)
    os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
