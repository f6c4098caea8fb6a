"""What ffprobe says about a media file (SPEC §4 "Probing"), as the export needs it.

`ffprobe -show_format -show_streams -of json` on the file protocol only, read into `MediaInfo`:

- Rate from the first video stream: `avg_frame_rate`, snapped to the closest rate of
  timecode.SUPPORTED_RATES within `SNAP_TOLERANCE` (so 2997/100 is 30000/1001 and a millisecond-
  quantised 23.81 is 23.976), the raw rational kept. Variable frame rate (`r_frame_rate` and
  `avg_frame_rate` differ, or a 1/600-style time base) is flagged; its rate is then the snapped
  `r_frame_rate`, the grid its timestamps sit on, when that snaps. No rate that snaps: `rate` None.
- Duration as an exact rational: the video stream's `duration_ts × time_base`, else the format's.
- Start timecode, in the order MEDIA-FACTS §1 suggests: the format tag (MXF material package, DV,
  AVI), the video stream's tag (MOV copies its tmcd there), a `tmcd` stream by codec tag, the
  MPEG-2 GOP field; none: 00:00:00:00 with `timecode_source: "none"`. Drop frame comes from its `;`
  (or `.`/`,`), never from the rate.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from features.create_export.media.ffmpeg import FORMAT_WHITELIST, MediaToolError, ToolMissing, file_url, run_ffprobe
from features.create_export.timecode import SUPPORTED_RATES, rational_label

SNAP_TOLERANCE = Fraction(1, 100)  # relative: 1 %; the closest rate wins, so 24 never becomes 23.976
_TIMECODE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.,]\d{2,3}$")
NO_TIMECODE = "00:00:00:00"


class ProbeError(RuntimeError):
    """ffprobe cannot read the file as media; the message says what it saw."""


@dataclass(frozen=True)
class MediaInfo:
    rate: Fraction | None
    raw_rate: str
    variable_frame_rate: bool
    duration: Fraction
    width: int
    height: int
    audio_channels: int
    audio_streams: int
    start_timecode: str
    timecode_source: str
    drop_frame: bool
    size: int
    container: str
    video_codec: str
    start_time: Fraction = Fraction(0)  # the format's first timestamp; `-ss` counts from it

    def as_manifest(self) -> dict[str, Any]:
        return {
            "frame_rate": rational_label(self.rate) if self.rate is not None else None,
            "raw_frame_rate": self.raw_rate,
            "variable_frame_rate": self.variable_frame_rate,
            "duration": rational_label(self.duration),
            "duration_seconds": round(float(self.duration), 6),
            "width": self.width,
            "height": self.height,
            "audio_channels": self.audio_channels,
            "audio_streams": self.audio_streams,
            "start_timecode": self.start_timecode,
            "timecode_source": self.timecode_source,
            "drop_frame": self.drop_frame,
            "size": self.size,
            "container": self.container,
            "video_codec": self.video_codec,
        }


async def probe(path: Path) -> MediaInfo:
    """Probe one (already resolved) media file."""
    arguments = ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST]
    arguments += ["-of", "json", "-show_format", "-show_streams", file_url(path)]
    try:
        result = await run_ffprobe(arguments)
        document = json.loads(result.stdout or b"{}")
    except ToolMissing:
        raise
    except (MediaToolError, ValueError) as error:
        raise ProbeError(f"ffprobe cannot read it as media ({_cause(error)})") from None
    return parse_probe(document)


def parse_probe(document: dict[str, Any]) -> MediaInfo:
    """`MediaInfo` from ffprobe's JSON (pure, so it is tested on recorded documents too)."""
    streams = document.get("streams") or []
    form = document.get("format") or {}
    video = next((s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)), None)
    if video is None:
        raise ProbeError("ffprobe found no video stream")
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    average, real = _rational(video.get("avg_frame_rate")), _rational(video.get("r_frame_rate"))
    vfr = _is_variable(average, real, _rational(video.get("time_base")))
    raw = average if average else real
    rate = snap_rate(real) if vfr and real else snap_rate(raw) if raw else None
    timecode, source = find_timecode(form, video, streams)
    return MediaInfo(
        rate=rate,
        raw_rate=rational_label(raw) if raw else "0/0",
        variable_frame_rate=vfr,
        duration=_duration(video, form),
        width=int(video.get("width") or 0),
        height=int(video.get("height") or 0),
        audio_channels=sum(int(s.get("channels") or 0) for s in audio),
        audio_streams=len(audio),
        start_timecode=timecode,
        timecode_source=source,
        drop_frame=timecode[8] in ";.,",
        size=int(form.get("size") or 0),
        container=str(form.get("format_name") or ""),
        video_codec=str(video.get("codec_name") or ""),
        start_time=_decimal(form.get("start_time")),
    )


def snap_rate(raw: Fraction) -> Fraction | None:
    """The closest supported rate within SNAP_TOLERANCE of `raw`, or None."""
    closest = min(SUPPORTED_RATES, key=lambda rate: abs(rate - raw))
    return closest if abs(closest - raw) <= closest * SNAP_TOLERANCE else None


def find_timecode(form: dict[str, Any], video: dict[str, Any], streams: list[dict[str, Any]]) -> tuple[str, str]:
    candidates = [
        ("format", _tag(form, "timecode")),
        ("stream", _tag(video, "timecode")),
        *(("tmcd", _tag(s, "timecode")) for s in streams if s.get("codec_tag_string") == "tmcd"),
        ("gop", video.get("timecode")),
    ]
    for source, value in candidates:
        if isinstance(value, str) and _TIMECODE.match(value.strip()):
            return value.strip(), source
    return NO_TIMECODE, "none"


def _is_cover_art(stream: dict[str, Any]) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def _is_variable(average: Fraction | None, real: Fraction | None, time_base: Fraction | None) -> bool:
    if average and real and average != real:
        return True
    return time_base is not None and time_base.numerator == 1 and time_base.denominator == 600


def _duration(video: dict[str, Any], form: dict[str, Any]) -> Fraction:
    ticks, base = video.get("duration_ts"), _rational(video.get("time_base"))
    if isinstance(ticks, int) and ticks > 0 and base:
        return ticks * base
    try:
        return Fraction(str(video.get("duration") or form.get("duration") or "0"))
    except ValueError:
        return Fraction(0)


def _decimal(text: Any) -> Fraction:
    try:
        return Fraction(str(text)) if text not in (None, "", "N/A") else Fraction(0)
    except ValueError:
        return Fraction(0)


def _rational(text: Any) -> Fraction | None:
    """`"24000/1001"` exactly; `0/0` and garbage are None."""
    if not isinstance(text, str) or not text:
        return None
    numerator, _, denominator = text.partition("/")
    try:
        value = Fraction(int(numerator), int(denominator or 1))
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _tag(holder: dict[str, Any], name: str) -> Any:
    tags = holder.get("tags") or {}
    return next((value for key, value in tags.items() if key.lower() == name), None)


def _cause(error: Exception) -> str:
    return str(error)[:600] or type(error).__name__
