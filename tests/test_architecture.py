"""The slice rules of DESIGN.md: every feature mounted, no feature imports another, shared imports none."""

from __future__ import annotations

import ast
from pathlib import Path

import main

ROOT = Path(__file__).resolve().parents[1]
FEATURES = sorted(path.name for path in (ROOT / "features").iterdir() if (path / "__init__.py").exists())


def imported_modules(folder: Path) -> list[tuple[Path, str]]:
    found = []
    for source in folder.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.extend((source, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.extend((source, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def test_every_feature_is_mounted_in_main() -> None:
    mounted = {router.routes[0].endpoint.__module__.split(".")[1] for router in main.FEATURE_ROUTERS}
    # A feature with no route (periodic work) is registered in main beside the job kinds instead.
    scheduled = {name for name in FEATURES if hasattr(getattr(main, name, None), "process")} - mounted
    assert set(FEATURES) <= mounted | scheduled, f"not mounted: {set(FEATURES) - mounted - scheduled}"
    assert {"retention"} <= scheduled


def test_no_feature_imports_another_feature() -> None:
    for feature in FEATURES:
        for source, module in imported_modules(ROOT / "features" / feature):
            if module.startswith("features."):
                assert module.split(".")[1] == feature, f"{source.relative_to(ROOT)} imports {module}"


def test_shared_imports_no_feature() -> None:
    for source, module in imported_modules(ROOT / "shared"):
        assert not module.startswith("features"), f"{source.relative_to(ROOT)} imports {module}"


def test_each_feature_has_a_spine_file_named_after_it() -> None:
    for feature in FEATURES:
        assert (ROOT / "features" / feature / f"{feature}.py").exists(), feature
