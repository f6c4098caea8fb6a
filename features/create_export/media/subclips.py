"""Subclips (SPEC §5 "Subclips"): each range of `subclips.source`, widened and clamped, cut by ffmpeg.

- Ranges are whole frames of the media cut from (the given proxy, else the asset): in = the
  segment's start minus `handle_seconds`, out = its end plus it, halves up, clamped to
  [0, the media's last frame]. A range with no frame left is skipped with a warning.
- `accurate: true` re-encodes (H.264 + AAC in MP4): input `-ss` half a frame before the in-point
  (so a container's rounded timestamps cannot lose or gain a frame), `-frames:v` the exact count.
- `accurate: false` copies the streams, starting on the keyframe at or before the in-point. The cut
  is asked to start *on* that keyframe, so the file holds no hidden lead-in for an edit list to
  mask (MEDIA-FACTS §2, privacy); the manifest names that real first frame (`source_in`) beside the
  requested one (`requested_in`). The container is the source's (mov, mp4, mkv, mxf), else mkv.
- Each subclip's timecode (`-timecode`) is the asset's source timecode of its first frame.
- Names: `media/subclips/<nnn>_<type>_<in>-<out>.<ext>`, timecodes as HHMMSSFF (no `:` in names).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from features.create_export.media.ffmpeg import FORMAT_WHITELIST, MediaToolError, file_url, input_args, run_ffprobe
from features.create_export.media.source import MediaContext, MediaFile, source_timecode
from features.create_export.timecode import exact_seconds, round_half_up
from features.create_export.timeline import Segment

COPY_CONTAINERS = {".mov": ".mov", ".mp4": ".mp4", ".m4v": ".mp4", ".mkv": ".mkv", ".mxf": ".mxf"}


@dataclass(frozen=True)
class SubclipCut:
    index: int
    data_type: str
    requested_in: int  # frames from the media's first frame
    first_frame: int  # the real first frame: the keyframe at or before in copy mode
    out: int  # exclusive
    relative: str  # path in the package

    @property
    def frames(self) -> int:
        return self.out - self.first_frame


def plan_cuts(
    segments: Mapping[str, Sequence[Segment]],
    sources: list[str],
    handle_seconds: float,
    media: MediaContext,
    keyframes: list[int] | None,
) -> tuple[list[SubclipCut], list[str]]:
    """One cut per segment of the chosen data types, in start order; warnings for the skipped ones."""
    cut_from = media.cut_from.info
    rate = cut_from.rate or media.asset.info.rate or Fraction(25)
    last = max(1, math.floor(cut_from.duration * rate))
    handle = exact_seconds(handle_seconds)
    extension = ".mp4" if keyframes is None else COPY_CONTAINERS.get(media.cut_from.path.suffix.lower(), ".mkv")
    chosen = sorted(
        ((name, segment) for name in sources for segment in segments.get(name, [])),
        key=lambda item: (item[1].start, item[1].end, item[1].id),
    )
    cuts, warnings = [], []
    for name, segment in chosen:
        start = max(0, round_half_up((exact_seconds(segment.start) - handle) * rate))
        end = min(last, round_half_up((exact_seconds(segment.end) + handle) * rate))
        if end <= start:
            warnings.append(f"subclip of {name} segment {segment.id}: nothing of it is inside the media")
            continue
        first = start if keyframes is None else _keyframe_at_or_before(keyframes, start)
        index = len(cuts) + 1
        label = f"{_digits(source_timecode(media, first))}-{_digits(source_timecode(media, end))}"
        relative = f"media/subclips/{index:03d}_{name}_{label}{extension}"
        cuts.append(SubclipCut(index, name, start, first, end, relative))
    return cuts, warnings


def _keyframe_at_or_before(keyframes: list[int], frame: int) -> int:
    position = bisect.bisect_right(keyframes, frame)
    return keyframes[position - 1] if position else 0


def _digits(label: str) -> str:
    return "".join(character for character in label if character.isdigit())


async def keyframe_frames(media: MediaFile) -> list[int]:
    """The video keyframes of a file as frame numbers from its start (packet flags, no decoding)."""
    arguments = ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST, "-select_streams", "v:0"]
    arguments += ["-show_entries", "packet=pts,dts,flags:stream=time_base", "-of", "json", file_url(media.path)]
    try:
        listing = (await run_ffprobe(arguments)).stdout
        # A long asset lists hundreds of thousands of packets: parsed in a thread, off the event loop.
        return await asyncio.to_thread(_keyframes_in, listing, media)
    except (MediaToolError, ValueError) as error:
        message = str(error).replace(str(media.path), media.shown)
        raise MediaToolError(f"cannot list the keyframes of {media.shown!r}: {message}") from None


def _keyframes_in(listing: bytes, media: MediaFile) -> list[int]:
    document = json.loads(listing or b"{}")
    streams = document.get("streams") or [{}]
    numerator, _, denominator = str(streams[0].get("time_base") or "1/1").partition("/")
    time_base = Fraction(int(numerator), int(denominator or 1))
    rate = media.info.rate or Fraction(25)
    frames = set()
    for packet in document.get("packets") or []:
        pts = packet.get("pts", packet.get("dts"))
        if "K" in str(packet.get("flags", "")) and isinstance(pts, int):
            frames.add(max(0, round_half_up((pts * time_base - media.info.start_time) * rate)))
    return sorted(frames) or [0]


def cut_arguments(cut: SubclipCut, media: MediaContext, accurate: bool) -> list[str]:
    """ffmpeg arguments up to (not including) the output name."""
    source = media.cut_from
    rate = source.info.rate or Fraction(25)
    timecode = source_timecode(media, cut.first_frame)
    maps = ["-map", "0:v:0", "-map", "0:a?", "-map_metadata", "-1", "-timecode", timecode]
    if accurate:
        seek = max(Fraction(0), (cut.first_frame - Fraction(1, 2)) / rate)
        encode = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac"]
        limits = ["-frames:v", str(cut.frames), "-t", _seconds(Fraction(cut.frames) / rate)]
        return [
            "-ss",
            _seconds(seek),
            *input_args(source.path),
            *maps,
            *encode,
            *limits,
            "-movflags",
            "+faststart",
        ]
    # On the keyframe itself: rounded up to the microsecond, so the seek cannot fall to the one before.
    seek = Fraction(math.ceil(Fraction(cut.first_frame) / rate * 1_000_000), 1_000_000)
    copy = ["-c", "copy", "-avoid_negative_ts", "make_zero"]
    return ["-ss", _seconds(seek), *input_args(source.path), *maps, *copy, "-t", _seconds(Fraction(cut.frames) / rate)]


def target(build_folder: Path, cut: SubclipCut) -> Path:
    return build_folder / cut.relative


def _seconds(value: Fraction) -> str:
    return f"{float(value):.6f}"
