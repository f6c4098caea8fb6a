"""The one place a media subprocess is started, cancelled and reaped (DESIGN.md "Growing the house").

- Asynchronous subprocesses (the event loop stays free), argv lists, never a shell. Every input is
  `-protocol_whitelist file` plus a demuxer whitelist, and every path is absolute behind `file:`.
- At most `MEDIA_CONCURRENCY` ffmpeg processes per service process (a semaphore per event loop).
- Progress comes from `-progress pipe:1` (`out_time_us`, clamped to 0..1 of the expected length) and
  is handed to `on_progress`, which is also called every `TICK_SECONDS` while ffmpeg says nothing,
  so the job's cancel check (`JobRun.progress`) runs throughout a long cut.
- Cancel, lease loss, timeout and shutdown all reach here as an exception in the awaiting task (a
  `JobCancelled` from `on_progress`, or `CancelledError`): ffmpeg gets SIGTERM, then SIGKILL after
  `TERM_GRACE_SECONDS`, is always reaped, and its temporary output is deleted.
- Output goes to `.<name>.part<ext>` beside the target and is renamed onto it only when ffmpeg
  exits 0, so a reader never sees a partial file.
- Children die with the service (`PR_SET_PDEATHSIG`): after a kill -9 no ffmpeg keeps writing into a
  build folder that the next run is about to wipe. It is set by util-linux's `setpriv --pdeathsig`,
  which execs the tool in place (same pid), so Python can spawn with vfork: a `preexec_fn` forces a
  full fork of the service, measured here at ~15 ms of event loop per spawn (vs ~0.4 ms). Without
  `setpriv`, a `preexec_fn` does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.media_tools import locate

TERM_GRACE_SECONDS = 3.0
TICK_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 60.0
STDERR_LINES = 12
# Demuxers ffprobe/ffmpeg may use on our media: containers of camera and edit media, no playlists.
FORMAT_WHITELIST = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mxf,mpegts,avi,dv,mpeg,gxf,wav"
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

ProgressCallback = Callable[[float], Awaitable[None]]


class MediaToolError(RuntimeError):
    """ffmpeg or ffprobe is missing, or exited non-zero; the message has the last lines of its stderr."""


class ToolMissing(MediaToolError):
    """ffmpeg or ffprobe is not installed on this machine."""


@dataclass(frozen=True)
class ToolResult:
    stdout: bytes
    stderr: str


def find_tool(name: str) -> str:
    found = locate(name)
    if found is None:
        raise ToolMissing(f"{name} is not installed on this server (not found on PATH)")
    return found


def input_args(path: Path) -> list[str]:
    """How an input is named to ffmpeg/ffprobe: file protocol only, known containers only."""
    return ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST, "-i", file_url(path)]


def file_url(path: Path) -> str:
    if not path.is_absolute():
        raise ValueError(f"media paths handed to ffmpeg must be absolute: {path}")
    return f"file:{path}"


_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slot(limit: int) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    semaphore = _slots.get(loop)
    if semaphore is None:
        semaphore = _slots[loop] = asyncio.Semaphore(limit)
    return semaphore


async def run_ffprobe(arguments: Sequence[str]) -> ToolResult:
    """ffprobe with these arguments; its JSON on stdout. Short-lived, so not counted in the slots."""
    argv = [find_tool("ffprobe"), "-hide_banner", "-v", "error", *arguments]
    process = await _spawn(argv)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            stdout, stderr = await process.communicate()
    except TimeoutError:
        # A plain TimeoutError would reach the runner and read as the whole job timing out.
        raise MediaToolError(f"ffprobe took longer than {PROBE_TIMEOUT_SECONDS:g} s") from None
    finally:
        await _stop(process)
    result = ToolResult(stdout, stderr.decode("utf-8", "replace"))
    if process.returncode != 0:
        raise MediaToolError(f"ffprobe exited with {process.returncode}: {_last_lines(result.stderr)}")
    return result


async def run_ffmpeg(
    arguments: Sequence[str],
    target: Path,
    *,
    expected_seconds: float,
    concurrency: int,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Run ffmpeg writing `target` (the last argument is its temporary name); rename it on success."""
    partial = target.with_name(f".{target.stem}.part{target.suffix}")
    argv = [
        find_tool("ffmpeg"),
        *("-nostdin", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-n"),
        *arguments,
        file_url(partial),
    ]
    async with _slot(concurrency):
        try:
            await _run_with_progress(argv, expected_seconds, on_progress)
            os.replace(partial, target)
        except MediaToolError as error:
            # Its stderr names the private build folder: name the file by its name alone.
            raise MediaToolError(str(error).replace(str(partial), target.name)) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    return target


async def _run_with_progress(argv: list[str], expected_seconds: float, on_progress: ProgressCallback | None) -> None:
    process = await _spawn(argv)
    stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
    fraction = [0.0]
    readers = asyncio.gather(_read_progress(process, expected_seconds, fraction), _read_stderr(process, stderr_tail))
    try:
        while True:
            done, _ = await asyncio.wait({readers}, timeout=TICK_SECONDS)
            if on_progress is not None:
                await on_progress(fraction[0])
            if done:
                break
        await readers
        returncode = await process.wait()
        if returncode == 0 and on_progress is not None:
            await on_progress(1.0)
    finally:
        await _stop(process)
        readers.cancel()
        await asyncio.gather(readers, return_exceptions=True)
    if returncode != 0:
        raise MediaToolError(f"ffmpeg exited with {returncode}: {_last_lines(chr(10).join(stderr_tail))}")


async def _read_progress(process: asyncio.subprocess.Process, expected: float, fraction: list[float]) -> None:
    assert process.stdout is not None
    async for raw in process.stdout:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit() and expected > 0:
            # Early values can be N/A or hugely negative (MEDIA-FACTS §5): clamp.
            fraction[0] = min(1.0, max(0.0, int(value) / 1_000_000 / expected))


async def _read_stderr(process: asyncio.subprocess.Process, tail: deque[str]) -> None:
    assert process.stderr is not None
    async for raw in process.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)


async def _spawn(argv: list[str]) -> asyncio.subprocess.Process:
    setpriv = locate("setpriv") if _LIBC is not None else None
    if setpriv is not None:
        argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Its own session: a terminal's Ctrl-C reaches the service, which stops ffmpeg itself.
        start_new_session=True,
        preexec_fn=_die_with_parent if _LIBC is not None and setpriv is None else None,
    )


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: a single libc call, loaded beforehand.
    assert _LIBC is not None
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """TERM, then KILL if it does not go; always reaped, even when the awaiting task is cancelled."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.shield(asyncio.wait_for(process.wait(), TERM_GRACE_SECONDS))
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await asyncio.shield(process.wait())


def _last_lines(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()][-STDERR_LINES:]
    return " | ".join(lines)[-1500:] or "(no error output)"
