"""The C speedups (setup.py) are built and imported: an optional extension that failed to build
would otherwise go unnoticed, its module quietly on the pure-Python path."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def native_modules() -> dict[str, str]:
    """`NATIVE_MODULES` of setup.py, read without running setup()."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "NATIVE_MODULES":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no NATIVE_MODULES")


@pytest.mark.parametrize("name", sorted(native_modules()))
def test_every_native_module_is_built_from_its_source(name: str) -> None:
    source = ROOT / native_modules()[name]
    assert source.is_file(), f"{source} is missing"
    module = importlib.import_module(name)
    built = Path(module.__file__)
    assert built.suffix == ".so" and built.parent == source.parent
    # A stale build (the source edited since) would test old code. Whole seconds: the build copies
    # the module into place with its time cut to the second.
    stale = f"{built.name} is older than {source.name}: make install"
    assert built.stat().st_mtime >= int(source.stat().st_mtime), stale
