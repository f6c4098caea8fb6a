"""The spark package on disk (SPEC §5): a private build folder, the manifest, the zip, and publishing.

A run builds in `EXPORT_BASE_PATH/.<spark_id>.<lease token>.partial` and renames it to
`EXPORT_BASE_PATH/<spark_id>` only when complete, so a reader never sees half a package. The
rename is also the filesystem's fence: renaming onto a non-empty folder fails, so a stalled run
that wakes up late cannot replace the package of the run that took its job over. A folder left at
the final place by a run whose completion was never recorded is stale; the next run moves it aside.

Everything here is blocking file I/O: the processor calls it through `asyncio.to_thread`.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from isal import isal_zlib

from features.create_export.timeline import WRITE_BUFFER

ZIP_CHUNK = 1024 * 1024
ZIP_LEVEL = 1
PUBLISH_ATTEMPTS = 5


class PackageError(OSError):
    """The package folder cannot be made or published; the message names the path."""


@dataclass
class Artifact:
    artifact_type: str
    format: str
    path: str
    size: int
    sha256: str
    items: int
    url: str
    segments: int | None = None  # set when the file's items merge several segments (EDL markers)
    # Fields of one kind of artifact (a subclip's source_in, source_out, duration ...).
    extra: dict[str, Any] = field(default_factory=dict)

    def as_manifest_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "artifact_type": self.artifact_type,
            "format": self.format,
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "items": self.items,
        }
        if self.segments is not None:
            entry["segments"] = self.segments
        entry.update(self.extra)
        entry["url"] = self.url
        return entry


@dataclass
class PackageBuild:
    """One run's build folder and what has been written into it so far."""

    base: Path
    spark_id: str
    token: str
    artifacts: list[Artifact] = field(default_factory=list)
    # The package zip while files are streamed into it (`package_files`), and their digests.
    archive: zipfile.ZipFile | None = field(default=None, repr=False)
    archive_stream: IO[bytes] | None = field(default=None, repr=False)
    digests: dict[Path, str] = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        return self.base / f".{self.spark_id}.{self.token}.partial"

    @property
    def final(self) -> Path:
        return self.base / self.spark_id

    @property
    def zip_name(self) -> str:
        return f"{self.spark_id}.zip"

    def path_for(self, relative: str) -> Path:
        return self.folder / relative

    def record(self, artifact_type: str, fmt: str, written: Path, items: int, segments: int | None = None) -> Artifact:
        relative = written.relative_to(self.folder).as_posix()
        artifact = Artifact(
            artifact_type=artifact_type,
            format=fmt,
            path=relative,
            size=written.stat().st_size,
            sha256=self.digests.pop(written, None) or file_sha256(written),
            items=items,
            url=f"/spark/{self.spark_id}/artifacts/{relative}",
            segments=segments,
        )
        self.artifacts.append(artifact)
        return artifact


def prepare(base: Path, spark_id: str, token: str, first_run: bool) -> PackageBuild:
    """A clean build folder for this run; leftovers of earlier runs of the job are wiped first.

    The first run of a job has none to look for: only a crash, a kill or a hand-back leaves them.
    """
    build = PackageBuild(base=base, spark_id=spark_id, token=token)
    try:
        base.mkdir(parents=True, exist_ok=True)
        if not first_run:
            remove_leftovers(base, spark_id)
        build.folder.mkdir()
    except OSError as error:
        raise PackageError(f"EXPORT_BASE_PATH {base} is not a writable folder: {error.strerror or error}") from None
    return build


def remove_leftovers(base: Path, spark_id: str) -> None:
    """Build folders of earlier runs of this job (a crash, a kill) and stale published folders."""
    for leftover in base.glob(f".{spark_id}.*"):
        shutil.rmtree(leftover, ignore_errors=True)


def discard(build: PackageBuild) -> None:
    close_archive(build)
    shutil.rmtree(build.folder, ignore_errors=True)


def write_text(build: PackageBuild, relative: str, text: str) -> Path:
    target = build.path_for(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8", newline="\n")
    return target


def open_archive(build: PackageBuild) -> zipfile.ZipFile:
    """The package zip, `<spark_id>.zip` in the build folder, opened by the first file written into it."""
    if build.archive is None:
        # A big buffer: deflated pieces written 8 KB at a time kept the GIL from the event loop (WRITE_BUFFER).
        build.archive_stream = (build.folder / build.zip_name).open("wb", buffering=WRITE_BUFFER)
        build.archive = zipfile.ZipFile(
            build.archive_stream, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
        )
    return build.archive


def close_archive(build: PackageBuild) -> None:
    archive, stream = build.archive, build.archive_stream
    build.archive = build.archive_stream = None
    try:
        if archive is not None:
            archive.close()
    finally:
        if stream is not None:
            stream.close()


def write_zip(build: PackageBuild) -> Path:
    """`<spark_id>.zip`, complete: the files streamed into it as they were written (`package_files`),
    then every other file of the package, by relative path, read from disk."""
    target = build.folder / build.zip_name
    archive = open_archive(build)
    files = sorted(path for path in build.folder.rglob("*") if path.is_file() and path != target)
    try:
        for path in files:
            name = path.relative_to(build.folder).as_posix()
            if name not in archive.NameToInfo:
                add_deflated(archive, path, name)
    finally:
        close_archive(build)
    return target


def add_deflated(archive: zipfile.ZipFile, path: Path, name: str) -> None:
    """One file into the zip, deflated by ISA-L (issue 14: zlib, even at level 1, cost more CPU than
    most writers; ISA-L's level 1 is about five times cheaper and compresses as well). The zip
    stays a plain deflate zip any reader opens."""
    info = zipfile.ZipInfo.from_file(path, name)
    info.compress_type = zipfile.ZIP_DEFLATED
    with path.open("rb") as source, archive.open(info, "w") as entry:
        deflate_with_isal(entry)
        while chunk := source.read(ZIP_CHUNK):
            entry.write(chunk)


def deflate_with_isal(entry: IO[bytes]) -> bool:
    """Swap a zip entry's zlib compressor for ISA-L's (same raw-deflate stream, same API).

    `zipfile` has no public hook for its compressor; the entry it opens for writing keeps it in
    `_compressor` (Python 3.11 to 3.13). Where that is missing the entry keeps zlib: slower, never wrong
    (`tests/features/create_export/test_package.py` fails loudly if the hook goes away).
    """
    if not hasattr(entry, "_compressor"):
        return False
    entry._compressor = isal_zlib.compressobj(ZIP_LEVEL, isal_zlib.DEFLATED, -isal_zlib.MAX_WBITS)  # type: ignore[attr-defined]
    return True


def seal_and_publish(build: PackageBuild, manifest_text: str) -> dict[str, Any]:
    """`manifest.json`, the zip, then the rename into place: what the package download serves."""
    write_text(build, "manifest.json", manifest_text)
    archive = write_zip(build)
    info = {"path": archive.name, "url": f"/spark/{build.spark_id}/package", **file_info(archive)}
    publish(build)
    return info


def publish(build: PackageBuild) -> Path:
    """Rename the build folder into place; a stale folder there (from a run that never finished) goes."""
    for attempt in range(PUBLISH_ATTEMPTS):
        try:
            os.rename(build.folder, build.final)
            return build.final
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == PUBLISH_ATTEMPTS - 1:
                raise PackageError(f"cannot publish the package at {build.final}: {error.strerror}") from None
            stale = build.base / f".{build.spark_id}.{build.token}.stale{attempt}"
            try:
                os.rename(build.final, stale)
            except FileNotFoundError:
                continue  # someone else moved it meanwhile; try again
            shutil.rmtree(stale, ignore_errors=True)
    raise PackageError(f"cannot publish the package at {build.final}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(ZIP_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_info(path: Path) -> dict[str, Any]:
    return {"size": path.stat().st_size, "sha256": file_sha256(path)}
