"""The full proxy (SPEC §5 "Proxy"): what an NLE can attach and a browser can play.

Full length, the same frame rate (no `-r`: every frame kept at its timestamp), every audio stream
with its channels (no downmix), the asset's start timecode, H.264 (yuv420p) + AAC in MP4 with
`faststart`, scaled down to fit 960×540 (never up), even sides as H.264 needs. A short GOP (about a
second) so players and NLEs scrub it well. A given `proxy_path` is copied into the package as it is.
"""

from __future__ import annotations

import math
import posixpath
import re
import shutil
from pathlib import Path

from features.create_export.media.ffmpeg import input_args
from features.create_export.media.source import MediaContext, source_timecode

MAX_WIDTH, MAX_HEIGHT = 960, 540
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def proxy_name(full_path: str) -> str:
    """`media/<asset name>_proxy.mp4`, the name reduced to safe characters."""
    stem = posixpath.splitext(posixpath.basename(full_path))[0]
    safe = _UNSAFE.sub("_", stem).strip("._-") or "media"
    return f"media/{safe[:100]}_proxy.mp4"


def given_proxy_name(shown: str) -> str:
    name = _UNSAFE.sub("_", posixpath.basename(shown)).strip("._-") or "proxy"
    return f"media/{name[:120]}"


def proxy_arguments(media: MediaContext) -> list[str]:
    info = media.asset.info
    gop = str(max(1, math.ceil(info.rate))) if info.rate else "25"
    scale = (
        f"scale=w='min({MAX_WIDTH},iw)':h='min({MAX_HEIGHT},ih)'"
        ":force_original_aspect_ratio=decrease:force_divisible_by=2"
    )
    return [
        *input_args(media.asset.path),
        *("-map", "0:v:0", "-map", "0:a?", "-map_metadata", "-1"),
        *("-timecode", source_timecode(media, 0)),
        *("-vf", scale, "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", gop, "-pix_fmt", "yuv420p"),
        *("-c:a", "aac", "-b:a", "160k"),
        *("-movflags", "+faststart", "-f", "mp4"),
    ]


def copy_given_proxy(source: Path, target: Path) -> None:
    """Blocking copy through a temporary name: the build folder never holds half a proxy by its name."""
    partial = target.with_name(f".{target.name}.part")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(source, partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
