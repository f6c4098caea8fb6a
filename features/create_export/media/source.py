"""The media behind an export: found under MEDIA_ROOTS, probed, and turned into the timelines' timing.

When media is read (proxy, subclips) or `frame_rate`, `width` or `height` is null, the asset is
resolved and probed. Media that is needed but missing or unreadable fails the job (`MediaUnavailable`,
naming the path as the work order gave it); media that was only wanted for probing becomes a warning,
and the export falls back to the work order's values and DEFAULT_FRAME_RATE as before.

Timing (`decide_timing`): explicit work-order values win, with a warning when they disagree with the
media; else the probed values; else the defaults. The source side of every timeline starts at the
media's start timecode (converted to a frame count at the timeline's rate).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from features.create_export.media.ffmpeg import MediaToolError
from features.create_export.media.paths import MediaPathError, resolve_media
from features.create_export.media.probe import MediaInfo, ProbeError, probe
from features.create_export.timecode import (
    TimecodeError,
    frame_to_timecode,
    parse_frame_rate,
    rational_label,
    round_half_up,
    supports_drop_frame,
    timecode_to_frame,
)
from features.create_export.work_order import MediaOptions
from shared.settings import Settings

DEFAULT_SIZE = (1920, 1080)


class MediaUnavailable(RuntimeError):
    """Media the work order needs cannot be used; the message names the path and why."""


@dataclass(frozen=True)
class MediaFile:
    shown: str  # the path as the work order gave it: what messages and the manifest name
    path: Path  # resolved, inside a root
    info: MediaInfo


@dataclass(frozen=True)
class MediaContext:
    asset: MediaFile
    proxy: MediaFile | None = None

    @property
    def cut_from(self) -> MediaFile:
        """Subclips are cut from the given proxy when there is one, else from the asset."""
        return self.proxy or self.asset


@dataclass
class Timing:
    rate: Fraction
    drop_frame: bool
    width: int
    height: int
    source_start_frame: int | None = None
    media_duration: float | None = None
    warnings: list[str] = field(default_factory=list)


def wants_probe(options: MediaOptions) -> bool:
    return options.needs_media or options.frame_rate is None or options.width is None or options.height is None


async def load_media(
    options: MediaOptions, full_path: str, settings: Settings
) -> tuple[MediaContext | None, list[str]]:
    """The probed asset (and given proxy), or None with the reason as a warning when it is optional."""
    if not wants_probe(options) or (not settings.media_roots and not options.needs_media):
        return None, []
    try:
        asset = await _probed(full_path, settings.media_roots, "media file")
        proxy = None
        if options.proxy_path is not None:
            proxy = await _probed(options.proxy_path, settings.media_roots, "proxy_path")
    except MediaUnavailable as error:
        if options.needs_media:
            raise
        return None, [f"media not probed, work-order values and DEFAULT_FRAME_RATE used: {error}"]
    return MediaContext(asset, proxy), []


async def _probed(shown: str, roots: list[Path], what: str) -> MediaFile:
    try:
        path = await asyncio.to_thread(resolve_media, shown, roots, what)
    except MediaPathError as error:
        raise MediaUnavailable(str(error)) from None
    try:
        info = await probe(path)
    except (ProbeError, MediaToolError) as error:
        raise MediaUnavailable(f"{what} {shown!r}: {_hide(str(error), path, shown)}") from None
    return MediaFile(shown, path, info)


def _hide(message: str, path: Path, shown: str) -> str:
    """Error text may name the resolved path; the client only ever sees the path it gave."""
    return message.replace(str(path), shown)


def decide_timing(options: MediaOptions, media: MediaContext | None, default_rate: str) -> Timing:
    info = media.asset.info if media is not None else None
    warnings: list[str] = []
    rate = _rate(options, info, default_rate, warnings)
    drop_frame = _drop_frame(options, info, rate, warnings)
    width = options.width or (info.width if info and info.width else DEFAULT_SIZE[0])
    height = options.height or (info.height if info and info.height else DEFAULT_SIZE[1])
    if info is None:
        return Timing(rate, drop_frame, width, height, warnings=warnings)
    if info.width and (width, height) != (info.width, info.height):
        warnings.append(f"width/height {width}x{height} differ from the media's {info.width}x{info.height}")
    if info.variable_frame_rate:
        warnings.append(
            f"the media has a variable frame rate (average {info.raw_rate}); timelines use {rational_label(rate)}"
        )
    source_start = _source_start_frame(info, rate, warnings)
    return Timing(rate, drop_frame, width, height, source_start, float(info.duration) or None, warnings)


def _rate(options: MediaOptions, info: MediaInfo | None, default_rate: str, warnings: list[str]) -> Fraction:
    if options.frame_rate is not None:
        rate = parse_frame_rate(options.frame_rate)
        if info is not None and info.rate is not None and info.rate != rate:
            warnings.append(
                f"frame_rate {options.frame_rate} differs from the media's {rational_label(info.rate)}; "
                "the work order's rate is used"
            )
        return rate
    if info is not None and info.rate is not None:
        return info.rate
    if info is not None:
        warnings.append(f"the media's frame rate {info.raw_rate} is not a timeline rate; DEFAULT_FRAME_RATE used")
    return parse_frame_rate(default_rate)


def _drop_frame(options: MediaOptions, info: MediaInfo | None, rate: Fraction, warnings: list[str]) -> bool:
    media_says = info.drop_frame if info is not None and info.timecode_source != "none" else None
    if options.drop_frame is not None:
        if media_says is not None and media_says != options.drop_frame:
            kind = "drop" if media_says else "non-drop"
            warnings.append(
                f"drop_frame {str(options.drop_frame).lower()} differs from the media's {kind}-frame timecode"
            )
        return options.drop_frame
    if media_says is not None:
        if media_says and not supports_drop_frame(rate):
            warnings.append(
                f"the media's timecode is marked drop frame at {rational_label(rate)} fps; read as non-drop"
            )
            return False
        return media_says
    return supports_drop_frame(rate)


def _source_start_frame(info: MediaInfo, rate: Fraction, warnings: list[str]) -> int:
    """The media's start timecode as a frame count at the timeline's rate."""
    if info.timecode_source == "none":
        return 0
    media_rate = info.rate or rate
    drop = info.drop_frame and supports_drop_frame(media_rate)
    try:
        counted = timecode_to_frame(info.start_timecode, media_rate, drop)
    except TimecodeError as error:
        warnings.append(f"the media's start timecode cannot be read ({error}); 00:00:00:00 used")
        return 0
    return counted if media_rate == rate else round_half_up(Fraction(counted) * rate / media_rate)


def source_timecode(media: MediaContext, frame: int) -> str:
    """The asset's timecode label of a frame counted from its first frame, at its own rate."""
    info = media.asset.info
    rate = info.rate or Fraction(25)
    drop = info.drop_frame and supports_drop_frame(rate)
    start = 0
    if info.timecode_source != "none":
        try:
            start = timecode_to_frame(info.start_timecode, rate, drop)
        except TimecodeError:
            start = 0
    return frame_to_timecode(start + frame, rate, drop)
