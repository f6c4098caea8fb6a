"""The demo asset's media, made once by `make run` from ffmpeg's test sources (no download).

    python -m tools.demo_media FOLDER     # writes FOLDER/demo/interview.mov unless it is already there

A 320×180 picture (`testsrc2`) with a burnt-in running timecode (the `drawtext` filter's own
timecode counter, so every frame shows its source timecode), a 440 Hz tone on two channels, at
23.976 fps with start timecode 01:00:00:00 (a `tmcd` track), H.264 + AAC in MOV, one keyframe a
second, exactly as long as the demo asset's events (DEMO_DURATION_SECONDS). Without a usable font
(`drawtext` needs one through fontconfig; Debian's ffmpeg pulls in DejaVu) the picture has no text
but is otherwise the same, and a line says so.

Written to a temporary name and renamed, so an interrupted run never leaves half a file that the
next run would take for the finished one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.demo_asset import DEMO_DURATION_SECONDS, DEMO_FULL_PATH
from tools.die_with_parent import die_with_parent

RATE = "24000/1001"
START_TIMECODE = "01:00:00:00"
SIZE = "320x180"


def demo_media_path(root: Path) -> Path:
    return root / DEMO_FULL_PATH.lstrip("/")


def burnt_in_timecode() -> str:
    # Our own constant filter text (no user input reaches it); `\:` escapes drawtext's separator.
    timecode = START_TIMECODE.replace(":", r"\:")
    return (
        f"drawtext=timecode='{timecode}':rate={RATE}:fontsize=20:fontcolor=white"
        ":box=1:boxcolor=black@0.6:boxborderw=4:x=(w-tw)/2:y=h-th-10"
    )


def command(target: Path, with_text: bool, seconds: float = DEMO_DURATION_SECONDS) -> list[str]:
    video = f"testsrc2=size={SIZE}:rate={RATE}:duration={seconds}"
    audio = f"sine=frequency=440:sample_rate=48000:duration={seconds}"
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    argv += ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio]
    if with_text:
        argv += ["-vf", burnt_in_timecode()]
    argv += ["-af", "aformat=channel_layouts=stereo", "-c:a", "aac", "-b:a", "96k"]
    argv += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-g", "24", "-pix_fmt", "yuv420p"]
    argv += ["-timecode", START_TIMECODE, "-shortest", "-f", "mov", str(target)]
    return argv


def ensure_demo_media(root: Path, seconds: float = DEMO_DURATION_SECONDS) -> tuple[Path, bool]:
    """The demo media file under `root`, made if missing; (path, made now)."""
    target = demo_media_path(root)
    if target.is_file():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    try:
        try:
            # Tied to this process: a `make run` killed mid-way leaves no ffmpeg writing into .data.
            subprocess.run(
                command(partial, True, seconds), check=True, capture_output=True, preexec_fn=die_with_parent()
            )
        except subprocess.CalledProcessError as error:
            reason = error.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
            print(f"demo media: no burnt-in timecode ({reason[0][:200]}); making it without", file=sys.stderr)
            subprocess.run(command(partial, False, seconds), check=True, preexec_fn=die_with_parent())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target, True


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m tools.demo_media FOLDER", file=sys.stderr)
        return 2
    path, made = ensure_demo_media(Path(args[0]))
    print(f"{'made' if made else 'kept'} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
