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
