"""Session fixtures: the media files of fixtures.py, made once in a temporary MEDIA_ROOTS folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.features.create_export.media.fixtures import FIXTURES, MediaFixture, make


@pytest.fixture(scope="session")
def media_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media-root")
    (root / "clips").mkdir()
    for fixture in FIXTURES:
        make(fixture, root / "clips")
    return root


@pytest.fixture(scope="session")
def media_files(media_root: Path) -> dict[str, tuple[MediaFixture, Path]]:
    return {fixture.name: (fixture, media_root / "clips" / fixture.filename) for fixture in FIXTURES}


@pytest.fixture(scope="session")
def long_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MEDIA_ROOTS folder with one 5-minute file: long enough that re-encoding it takes a while."""
    from tests.features.create_export.media.fixtures import make_long

    root = tmp_path_factory.mktemp("long-media")
    make_long(root, seconds=300)
    return root
