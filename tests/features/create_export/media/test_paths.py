"""MEDIA_ROOTS containment: only regular files inside a root are ever read, whatever the path says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from features.create_export.media.paths import MediaPathError, path_problem, resolve_media


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "media", tmp_path / "media2"
    (first / "show").mkdir(parents=True)
    second.mkdir()
    (first / "show" / "clip.mov").write_bytes(b"x")
    (second / "only-here.mov").write_bytes(b"y")
    (tmp_path / "secret.mov").write_bytes(b"s")
    return first, second


def test_a_relative_or_catalog_path_is_looked_up_in_each_root_in_order(roots) -> None:
    first, second = roots
    assert resolve_media("/show/clip.mov", list(roots)) == first / "show" / "clip.mov"
    assert resolve_media("show/clip.mov", list(roots)) == first / "show" / "clip.mov"
    assert resolve_media("/only-here.mov", list(roots)) == second / "only-here.mov"


def test_an_absolute_path_inside_a_root_is_taken_as_it_is(roots) -> None:
    first, _ = roots
    assert resolve_media(str(first / "show" / "clip.mov"), list(roots)) == first / "show" / "clip.mov"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/show/../../secret.mov", "contains '..'"),
        ("/show/-i.mov", "starting with '-'"),
        ("concat:/a.mov|/b.mov", "URL or an ffmpeg protocol"),
        ("http://example.com/a.mov", "URL or an ffmpeg protocol"),
        ("file:/etc/passwd", "URL or an ffmpeg protocol"),
        ("/show/a\nb.mov", "control character"),
    ],
)
def test_paths_that_could_never_be_read_are_refused_before_any_look(roots, path, message) -> None:
    assert message in (path_problem(path) or "")
    with pytest.raises(MediaPathError, match=message.replace("(", r"\(").replace(".", r"\.")):
        resolve_media(path, list(roots))


def test_an_absolute_path_outside_the_roots_is_not_read(roots, tmp_path) -> None:
    # Looked up as <root>/<path>, where it does not exist: the file outside is never touched.
    with pytest.raises(MediaPathError, match="not found in MEDIA_ROOTS"):
        resolve_media(str(tmp_path / "secret.mov"), list(roots))


def test_a_sibling_folder_sharing_the_prefix_is_not_inside(roots) -> None:
    first, second = roots
    # /media2 starts with /media but is not inside it: with only /media as a root it is not found.
    with pytest.raises(MediaPathError, match="not found"):
        resolve_media(str(second / "only-here.mov"), [first])


def test_a_symlink_out_of_a_root_is_refused(roots, tmp_path) -> None:
    first, _ = roots
    os.symlink(tmp_path / "secret.mov", first / "show" / "link.mov")
    with pytest.raises(MediaPathError, match="leads outside MEDIA_ROOTS"):
        resolve_media("/show/link.mov", list(roots))


def test_a_symlink_inside_a_root_is_followed(roots) -> None:
    first, _ = roots
    os.symlink(first / "show" / "clip.mov", first / "alias.mov")
    assert resolve_media("/alias.mov", list(roots)) == first / "show" / "clip.mov"


def test_only_regular_files(roots) -> None:
    with pytest.raises(MediaPathError, match="not a regular file"):
        resolve_media("/show", list(roots))


def test_missing_and_no_roots(roots) -> None:
    with pytest.raises(MediaPathError, match="not found"):
        resolve_media("/show/missing.mov", list(roots))
    with pytest.raises(MediaPathError, match="MEDIA_ROOTS is empty"):
        resolve_media("/show/clip.mov", [])
