"""The package zip: deflated by ISA-L (issue 14), read back by zipfile and by Info-ZIP's `unzip`."""

from __future__ import annotations

import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from isal import isal_zlib

from features.create_export import package


def build_with_files(tmp_path: Path) -> tuple[package.PackageBuild, dict[str, bytes]]:
    build = package.PackageBuild(base=tmp_path, spark_id="spark-zip", token="run")
    rng = random.Random(4)
    contents = {
        "events/sdna_ai_spark_events.srt": b"1\n00:00:01,000 --> 00:00:02,000\nsame words again\n\n" * 40_000,
        "media/noise.bin": rng.randbytes(3 * package.ZIP_CHUNK + 17),  # incompressible, several chunks
        "empty.txt": b"",
        "manifest.json": '{"name": "caf\u00e9"}\n'.encode(),
    }
    for relative, data in contents.items():
        target = build.path_for(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return build, contents


def test_the_zip_holds_every_file_deflated_and_reads_back(tmp_path: Path) -> None:
    build, contents = build_with_files(tmp_path)
    archive_path = package.write_zip(build)
    with zipfile.ZipFile(archive_path) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted(contents)
        for name, data in contents.items():
            assert archive.read(name) == data
            assert archive.getinfo(name).compress_type == zipfile.ZIP_DEFLATED
        srt = archive.getinfo("events/sdna_ai_spark_events.srt")
        assert srt.compress_size < srt.file_size / 50


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Info-ZIP unzip is not installed")
def test_info_zip_tests_the_archive_without_an_error(tmp_path: Path) -> None:
    build, _ = build_with_files(tmp_path)
    archive_path = package.write_zip(build)
    checked = subprocess.run(["unzip", "-t", str(archive_path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "No errors detected" in checked.stdout


def test_the_zip_entry_still_has_the_compressor_hook_isal_replaces(tmp_path: Path) -> None:
    """If a Python upgrade renames zipfile's private `_compressor`, this fails instead of the zip
    silently going back to zlib's slower deflate."""
    with zipfile.ZipFile(tmp_path / "hook.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("a.txt")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as entry:
            assert package.deflate_with_isal(entry) is True
            assert type(entry._compressor) is type(isal_zlib.compressobj())  # type: ignore[attr-defined]
            entry.write(b"text " * 100)
    with zipfile.ZipFile(tmp_path / "hook.zip") as archive:
        assert archive.read("a.txt") == b"text " * 100


# --- files written in one pass (features/create_export/package_files.py) ----------------------------


def write_streamed(build: package.PackageBuild, relative: str, pieces: list[bytes], text: bool = False) -> Path:
    """A file written as a writer writes it, through `timeline.open_output`, inside a package step."""
    from features.create_export import package_files
    from features.create_export.timeline import open_output

    target = build.path_for(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    with package_files.streaming(build):
        stream = open_output(target, encoding="utf-8", newline="\n") if text else open_output(target)
        with stream:
            for piece in pieces:
                stream.write(piece.decode() if text else piece)
    return target


def test_a_streamed_file_is_in_the_folder_the_zip_and_the_manifest_alike(tmp_path, monkeypatch) -> None:
    """Written once: the folder's file, the zip's entry and the recorded digest are the same bytes,
    across the syncs that let the pages go; files written otherwise are zipped when sealed."""
    import hashlib

    from features.create_export import package_files

    synced: list[int] = []
    real_let_go = package_files._let_pages_go
    monkeypatch.setattr(package_files, "DROP_BEHIND", 100_000)
    monkeypatch.setattr(package_files, "_let_pages_go", lambda fd: synced.append(fd) or real_let_go(fd))
    build, contents = build_with_files(tmp_path)  # written directly: zipped at the seal
    rng = random.Random(9)
    big = [rng.randbytes(rng.randint(1, 70_000)) for _ in range(40)]
    streamed = {
        "events/big.bin": write_streamed(build, "events/big.bin", big),
        "transcript/words.txt": write_streamed(build, "transcript/words.txt", ["caf\u00e9 ".encode()] * 9, text=True),
        "comments/empty.json": write_streamed(build, "comments/empty.json", []),
    }
    assert synced, "a file past DROP_BEHIND is synced and let go"
    for path in streamed.values():
        artifact = build.record("events", "bin", path, items=1)
        assert artifact.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert artifact.size == path.stat().st_size
    assert streamed["events/big.bin"].read_bytes() == b"".join(big)

    archive_path = package.write_zip(build)
    with zipfile.ZipFile(archive_path) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == sorted([*contents, *streamed])
        for name, path in streamed.items():
            assert archive.read(name) == path.read_bytes()
            assert archive.getinfo(name).compress_type == zipfile.ZIP_DEFLATED
        for name, data in contents.items():
            assert archive.read(name) == data
    if shutil.which("unzip"):
        checked = subprocess.run(["unzip", "-t", str(archive_path)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0 and "No errors detected" in checked.stdout, checked.stdout + checked.stderr


def test_outside_a_package_step_a_writer_writes_a_plain_file(tmp_path) -> None:
    from features.create_export import package_files
    from features.create_export.timeline import open_output

    build = package.PackageBuild(base=tmp_path, spark_id="spark-plain", token="run")
    build.folder.mkdir()
    with open_output(tmp_path / "alone.bin") as stream:
        stream.write(b"plain")
    with package_files.streaming(build), open_output(tmp_path / "beside.bin") as stream:
        stream.write(b"outside the build folder")  # not a package file: not streamed
    assert build.archive is None and not build.digests
    assert (tmp_path / "alone.bin").read_bytes() == b"plain"


def test_a_writer_that_fails_midway_leaves_nothing_when_the_build_is_discarded(tmp_path) -> None:
    from features.create_export import package_files
    from features.create_export.timeline import open_output

    build = package.PackageBuild(base=tmp_path, spark_id="spark-fail", token="run")
    build.folder.mkdir()

    def broken_writer() -> None:
        with package_files.streaming(build), open_output(build.path_for("events.bin")) as stream:
            stream.write(b"half a file")
            raise RuntimeError("writer broke")

    with pytest.raises(RuntimeError, match="writer broke"):
        broken_writer()
    assert build.archive is not None
    package.discard(build)
    assert build.archive is None and not build.folder.exists()
