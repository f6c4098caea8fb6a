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

Issue 14: the cleaned text and the cue times are the `SegmentTable` columns the SRT writer uses too
(whichever runs second reuses them), each clock label is formatted once, and cues are written a
megabyte at a time (`writers.srt.write_in_chunks`). The identifiers, the cue format, the escaping, the
encoding and the chunked writes then run in C (`_vtt_native.write_cues`, built by setup.py), a batch of
cues at a time with the GIL released while each chunk is built; `python_write_cues` is the same in
Python, the reference the C is tested against and the path where the extension is not built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from features.create_export.segment_table import SegmentTable
from features.create_export.timeline import Segment, Timeline, WrittenFile, open_output
from features.create_export.writers.srt import (
    BYTES_PER_WRITE,
    clock_labels,
    cue_milliseconds,
    cue_texts_of,
    one_frame_milliseconds,
    write_in_chunks,
)

try:
    from features.create_export.writers import _vtt_native
except ImportError:  # built without a C compiler: setup.py's extensions are optional
    _vtt_native = None

_NOT_IN_IDENTIFIER = re.compile(r"[^A-Za-z0-9_.:-]+")
_BLOCK_KEYWORDS = ("NOTE", "STYLE", "REGION")


def write_segments(path: Path, segments: Sequence[Segment], timeline: Timeline) -> list[WrittenFile]:
    """Write one cue per segment with text and return the file written."""
    table = SegmentTable.of(segments)
    starts, ends = cue_milliseconds(table, one_frame_milliseconds(timeline.rate))
    texts = cue_texts_of(table)
    with open_output(path) as stream:
        stream.write(b"WEBVTT\n\n")
        written = write_cues(stream, table.ids(), starts, ends, texts)
    return [WrittenFile(path=path, items=written, skipped=len(table) - written)]


def write_cues(
    stream: BinaryIO, ids: Sequence[str], starts: Sequence[int], ends: Sequence[int], texts: Sequence[str]
) -> int:
    """The cues of the segments with text, written in chunks of about `BYTES_PER_WRITE`; how many there were."""
    if _vtt_native is not None:
        return _vtt_native.write_cues(stream.write, ids, starts, ends, texts, BYTES_PER_WRITE)
    return python_write_cues(stream, ids, starts, ends, texts)


def python_write_cues(
    stream: BinaryIO,
    ids: Sequence[str],
    starts: Sequence[int],
    ends: Sequence[int],
    texts: Sequence[str],
    bytes_per_write: int = BYTES_PER_WRITE,
) -> int:
    """`write_cues` in Python: what `_vtt_native.write_cues` must write, byte for byte."""
    labels = clock_labels(chain(starts, ends), ".")
    # Filled in cue order as the cues are written: the first cue with an identifier keeps it.
    used_identifiers: set[str] = set()
    cues = (
        _identifier_line(segment_id, used_identifiers)
        + b"%b --> %b\n%b\n\n" % (labels[start_ms], labels[end_ms], _escaped(text).encode("utf-8"))
        for segment_id, start_ms, end_ms, text in zip(ids, starts, ends, texts, strict=True)
        if text
    )
    return write_in_chunks(stream, cues, bytes_per_write)


def _identifier_line(segment_id: str, used: set[str]) -> bytes:
    """The cue's identifier line, or nothing when the cue goes without one."""
    identifier = _identifier(segment_id, used)
    return identifier.encode("ascii") + b"\n" if identifier else b""


def _identifier(segment_id: str, used: set[str]) -> str | None:
    """A safe, unique cue identifier from the segment id, or None to write the cue without one."""
    # Most ids are identifiers already; searching is cheaper than substituting nothing.
    identifier = _NOT_IN_IDENTIFIER.sub("", segment_id) if _NOT_IN_IDENTIFIER.search(segment_id) else segment_id
    if not identifier or identifier in used or identifier.startswith(_BLOCK_KEYWORDS):
        return None
    used.add(identifier)
    return identifier


def _escaped(text: str) -> str:
    # `&` first, so the `&` of `&lt;` and `&gt;` is not escaped again; replace is cheap when absent.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
