"""WebVTT export (W3C): `WEBVTT`, a blank line, then cues `HH:MM:SS.mmm --> HH:MM:SS.mmm`.

Same timing and text rules as the SRT writer (see `writers.srt`: half-up milliseconds, an end not after
the start extended to one frame, line breaks kept, empty lines and control characters removed, `-->`
turned into `->`, empty cues skipped), plus what WebVTT itself requires (FORMAT-FACTS §7):
- `&`, `<` and `>` are escaped, so text can never hold a tag or a `-->`;
- hours are always written (two digits at least) and milliseconds always have three digits;
- cues are in non-decreasing start order (sorted by start, then id);
- the identifier is the segment id reduced to `A-Z a-z 0-9 _ . : -` (no `>`, so never `-->`); it is
  left out when nothing remains, when it would repeat an earlier identifier (they must be unique), or
  when it would start like a `NOTE`, `STYLE` or `REGION` block.
UTF-8 without BOM, LF line ends, no header text, no `Kind:`/`Language:` lines (an old draft).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from features.create_export.timecode import clock
from features.create_export.timeline import Segment, Timeline, WrittenFile
from features.create_export.writers.srt import cue_lines, cue_milliseconds, one_frame_milliseconds

_NOT_IN_IDENTIFIER = re.compile(r"[^A-Za-z0-9_.:-]+")
_BLOCK_KEYWORDS = ("NOTE", "STYLE", "REGION")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one cue per segment with text and return the file written."""
    frame_ms = one_frame_milliseconds(timeline.rate)
    used_identifiers: set[str] = set()
    written = skipped = 0
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        stream.write("WEBVTT\n\n")
        for segment in sorted(segments, key=lambda segment: (segment.start, segment.id)):
            lines = cue_lines(segment.value)
            if not lines:
                skipped += 1
                continue
            written += 1
            identifier = _identifier(segment.id, used_identifiers)
            if identifier:
                stream.write(f"{identifier}\n")
            start_ms, end_ms = cue_milliseconds(segment, frame_ms)
            stream.write(f"{clock(start_ms, '.')} --> {clock(end_ms, '.')}\n")
            stream.write("\n".join(line.translate(_ESCAPES) for line in lines))
            stream.write("\n\n")
    return [WrittenFile(path=path, items=written, skipped=skipped)]


def _identifier(segment_id: str, used: set[str]) -> str | None:
    """A safe, unique cue identifier from the segment id, or None to write the cue without one."""
    identifier = _NOT_IN_IDENTIFIER.sub("", segment_id)
    if not identifier or identifier in used or identifier.startswith(_BLOCK_KEYWORDS):
        return None
    used.add(identifier)
    return identifier
