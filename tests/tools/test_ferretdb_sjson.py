"""The embedded server's fast document decoder (tools/ferretdb/sjson_fast.go) decodes exactly as
FerretDB's own: its Go differential tests, a short fuzz run and FerretDB's sjson tests pass in a
copy of the patched FerretDB the build leaves in `.build/ferretdb-build/`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tools.embedded_mongo import BINARY, FAST_SJSON_PATCH, SOURCE, build

TEST_FILE = "sjson_fast_test.go"
SJSON_PACKAGE = Path("internal") / "handler" / "sjson"
FUZZ_SECONDS = 5
GO_TIMEOUT_SECONDS = 120  # the first run compiles FerretDB's test dependencies

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="Go is needed to run FerretDB's tests")


def _patched_ferretdb() -> Path:
    """The build's patched FerretDB, rebuilt if it is missing or holds an older decoder."""
    build()
    source = BINARY.parent / "ferretdb-build" / "FerretDB"
    patch = SOURCE / FAST_SJSON_PATCH
    copied = source / SJSON_PACKAGE / FAST_SJSON_PATCH
    if not copied.exists() or copied.read_text() != patch.read_text().removeprefix("//go:build ignore\n"):
        build(force=True)
    return source


@pytest.fixture(scope="module")
def ferretdb_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the patched FerretDB with our differential tests in its sjson package (a copy, so
    a build running beside us cannot replace the folder while Go reads it)."""
    copy = tmp_path_factory.mktemp("ferretdb") / "FerretDB"
    shutil.copytree(_patched_ferretdb(), copy)
    (copy / ".git").mkdir()  # FerretDB's testutil looks for its repository's root by it, and panics without
    test = (SOURCE / TEST_FILE).read_text().removeprefix("//go:build ignore\n")
    (copy / SJSON_PACKAGE / TEST_FILE).write_text(test)
    return copy


def _go_test(folder: Path, *args: str) -> None:
    done = subprocess.run(
        ["go", "test", "-count=1", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=GO_TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_fast_decoder_agrees_with_upstream_and_upstream_tests_pass(ferretdb_copy: Path) -> None:
    # FerretDB's own sjson tests go through Unmarshal, now the fast decoder, and check error texts.
    _go_test(ferretdb_copy, "./internal/handler/sjson/...")


def test_fuzzed_documents_decode_the_same(ferretdb_copy: Path) -> None:
    _go_test(
        ferretdb_copy,
        "-run=^$",
        "-fuzz=^FuzzFastUnmarshal$",
        f"-fuzztime={FUZZ_SECONDS}s",
        "-parallel=2",  # beside the rest of the suite
        f"./{SJSON_PACKAGE.as_posix()}",
    )
