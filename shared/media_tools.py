"""Where ffmpeg and ffprobe are, and which encoders this ffmpeg has: infrastructure that the export
slice (which runs them) and the health check (which reports them) both need.

The encoder list is read once per process (`ffmpeg -hide_banner -encoders`, an argv list, no shell,
no input file) and kept: a build does not change under a running service.
"""

from __future__ import annotations

import asyncio
import shutil

# What the export slice encodes with: H.264 + AAC for proxies and accurate subclips.
REQUIRED_ENCODERS = ("libx264", "aac")
_encoders: dict[str, frozenset[str]] = {}


def locate(name: str) -> str | None:
    return shutil.which(name)


async def available_encoders(ffmpeg: str) -> frozenset[str]:
    """The encoder names this ffmpeg lists (cached per binary)."""
    if ffmpeg in _encoders:
        return _encoders[ffmpeg]
    process = await asyncio.create_subprocess_exec(
        ffmpeg,
        "-hide_banner",
        "-encoders",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        stdout, _ = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    names = frozenset(line.split()[1] for line in stdout.decode("utf-8", "replace").splitlines() if _is_row(line))
    _encoders[ffmpeg] = names
    return names


def _is_row(line: str) -> bool:
    # Rows look like " V....D libx264   description"; the legend above them has a 6-letter flag too.
    parts = line.split()
    return len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS" and "=" not in line
