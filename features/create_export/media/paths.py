"""Where media may be read from (SPEC §4): only regular files inside one of `MEDIA_ROOTS`.

An asset's media file is its `full_path` when that is an absolute path inside a root, else
`<root>/<full_path without its leading />` in the first root where that file exists (`proxy_path` the
same way). The result is resolved with symlinks followed and must still be inside a root and be a
regular file, or it is refused with a message naming the path as the work order gave it.

Refused before any file system look (so a work order can get its 422 at once): `..` components, a
component starting with `-` (ffmpeg would read it as an option), a URL or protocol prefix such as
`concat:`, `http:` or `file:` (ffmpeg would open it as one), control characters and an empty path.
The path handed to ffmpeg is the resolved absolute path behind `file:` in any case.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

# `proto:` at the start, as ffmpeg reads it (`concat:`, `http:`, `subfile,,...:`); a Windows drive
# letter (`C:`) is refused too, which is right on a POSIX server.
_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9+.,-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MediaPathError(ValueError):
    """A media path that may not or cannot be read; the message names it and says why."""


def path_problem(path: str) -> str | None:
    """Why this path is refused whatever the roots hold, or None when it may be looked up."""
    if not path.strip():
        return "is empty"
    if _CONTROL.search(path):
        return "contains a control character"
    if _PROTOCOL.match(path):
        return "looks like a URL or an ffmpeg protocol (media is read from MEDIA_ROOTS only)"
    parts = PurePosixPath(path).parts
    if ".." in parts:
        return "contains '..'"
    if any(part.startswith("-") for part in parts):
        return "has a name starting with '-'"
    return None


def resolve_media(path: str, roots: Sequence[Path], what: str = "media file") -> Path:
    """The real, resolved file for `path` inside one of `roots` (blocking: call it in a thread)."""
    problem = path_problem(path)
    if problem is not None:
        raise MediaPathError(f"{what} {path!r} {problem}")
    if not roots:
        raise MediaPathError(f"{what} {path!r} cannot be read: MEDIA_ROOTS is empty")
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    for candidate in _candidates(path, real_roots):
        if not os.path.lexists(candidate):
            continue
        return _checked(candidate, real_roots, path, what)
    raise MediaPathError(f"{what} {path!r} was not found in MEDIA_ROOTS")


def _candidates(path: str, roots: list[Path]) -> list[Path]:
    """The absolute path itself when it names a place inside a root, then `<root>/<path>` per root."""
    found = []
    if path.startswith("/") and any(_inside(Path(os.path.normpath(path)), root) for root in roots):
        found.append(Path(path))
    relative = path.lstrip("/")
    found.extend(root / relative for root in roots)
    return found


def _checked(candidate: Path, roots: list[Path], shown: str, what: str) -> Path:
    real = Path(os.path.realpath(candidate))
    if not any(_inside(real, root) for root in roots):
        raise MediaPathError(f"{what} {shown!r} leads outside MEDIA_ROOTS (a symlink out of the root)")
    try:
        mode = os.stat(real).st_mode
    except OSError as error:
        raise MediaPathError(f"{what} {shown!r} cannot be read: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise MediaPathError(f"{what} {shown!r} is not a regular file")
    if not os.access(real, os.R_OK):
        raise MediaPathError(f"{what} {shown!r} is not readable by the service")
    return real


def _inside(path: Path, root: Path) -> bool:
    # commonpath, never startswith: `/media2` is not inside `/media` (MEDIA-FACTS §6).
    return os.path.commonpath([path, root]) == str(root)
