"""Text clean-up shared by this slice's writers: one line, ASCII, XML-safe.

Catalog values carry line breaks, `|`, `-->`, control characters and any Unicode; each format
tolerates a different subset (FORMAT-FACTS §2.4, §4, §6, §7), so writers pick from these.
"""

from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
_SPACES = re.compile(r"[ \t\f\v]+")
# XML 1.0 forbids C0 controls except tab, LF and CR, even escaped; also lone surrogates and non-characters.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def single_line(text: str) -> str:
    """Line breaks and runs of whitespace become one space; controls are dropped."""
    flattened = _LINE_BREAKS.sub(" ", text)
    flattened = _CONTROL.sub("", flattened.replace("\t", " "))
    return _SPACES.sub(" ", flattened).strip()


def is_single_line(text: str) -> bool:
    """True when `single_line(text)` is `text` itself (nearly every catalog value), found without its
    regexes: printable text has no line break, tab or control (no space `str.strip` removes but the
    ASCII one is printable), so only a run of spaces or a space at an end would change."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def ascii_only(text: str) -> str:
    """Transliterate what has an ASCII form (é → e), drop the rest (EDLs must be ASCII)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def xml_safe(text: str) -> str:
    """Remove the characters XML 1.0 cannot carry; escaping is the writer's job."""
    return _XML_FORBIDDEN.sub("", text)


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
