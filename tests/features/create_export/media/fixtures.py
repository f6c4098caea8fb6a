"""Media made by ffmpeg at test time: tiny (64×36, a few seconds) and made once per session.

Each fixture says what an independent reading must find: its exact rate, drop-frame flag, start
timecode, audio channels and frame count, all set by the ffmpeg command that made it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class MediaFixture:
    name: str
    filename: str
    rate: Fraction  # the rate the file was made at (the timeline rate it must probe to)
    drop_frame: bool
    timecode: str | None  # None: the file carries no timecode
    channels: int
    seconds: int
    vfr: bool = False
    gop: int = 12

    @property
    def frames(self) -> int:
        return int(self.seconds * self.rate)


FIXTURES = [
    MediaFixture("23.976-tc01", "a2398.mov", Fraction(24000, 1001), False, "01:00:00:00", 2, 4),
    MediaFixture("25-tc10", "b25.mov", Fraction(25), False, "10:00:00:00", 1, 4),
    MediaFixture("29.97DF", "c2997df.mov", Fraction(30000, 1001), True, "01:00:00;00", 2, 4),
    MediaFixture("59.94NDF", "d5994.mov", Fraction(60000, 1001), False, "00:59:58:00", 2, 3),
    MediaFixture("no-timecode", "e_notc.mp4", Fraction(25), False, None, 2, 4),
    MediaFixture("vfr", "f_vfr.mp4", Fraction(30), False, None, 0, 4, vfr=True),
    MediaFixture("no-audio", "g_silent.mov", Fraction(24), False, "00:00:10:00", 0, 4),
]


def make(fixture: MediaFixture, folder: Path) -> Path:
    target = folder / fixture.filename
    rate = f"{fixture.rate.numerator}/{fixture.rate.denominator}"
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", f"testsrc2=size=64x36:rate={rate}:duration={fixture.seconds}"]
    if fixture.channels:
        layout = "stereo" if fixture.channels == 2 else "mono"
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={fixture.seconds}:sample_rate=48000"]
        command += ["-af", f"aformat=channel_layouts={layout}", "-c:a", "aac"]
    if fixture.vfr:
        # Six frames of every ten kept, at their own times: a variable frame rate on a 1/30 s grid.
        command += ["-vf", r"select='lt(mod(n\,10)\,6)'", "-vsync", "vfr"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-g", str(fixture.gop), "-pix_fmt", "yuv420p"]
    if fixture.timecode:
        command += ["-timecode", fixture.timecode]
    command += ["-shortest", str(target)]
    subprocess.run(command, check=True)
    return target


def make_long(folder: Path, seconds: int = 120) -> Path:
    """A longer file for cancel and crash tests: slow enough to re-encode that a cut can be caught."""
    target = folder / "long.mov"
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=25:duration={seconds}"]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
    command += ["-timecode", "01:00:00:00", str(target)]
    subprocess.run(command, check=True)
    return target


def ffmpeg_children(parent: int) -> list[int]:
    """The ffmpeg processes whose parent is `parent` (from /proc: no extra dependency)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if name == "ffmpeg" and int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def ffmpeg_anywhere_reading(path: Path) -> list[int]:
    """ffmpeg processes (any parent) with `path` on their command line: orphans included."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"ffmpeg") and any(str(path).encode() in arg for arg in argv):
            found.append(int(entry.name))
    return found
