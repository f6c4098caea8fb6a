"""Text clean-up shared by this slice's writers: one line, ASCII, XML-safe.

Catalog values carry line breaks, `|`, `-->`, control characters and any Unicode; each format
tolerates a different subset (FORMAT-FACTS §2.4, §4, §6, §7), so writers pick from these.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

try:
    from features.create_export import _text_native
except ImportError:  # built without a C compiler: setup.py's extensions are optional
    _text_native = None

_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85]+")
_SPACES = re.compile(r"[ \t\f\v]+")
# XML 1.0 forbids C0 controls except tab, LF and CR, even escaped; also lone surrogates and non-characters.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")

# What `indexes_to_fix` checks a text for, beside its length and the characters to avoid (bits).
ASCII = 1  # str.isascii
PRINTABLE = 2  # str.isprintable
ONE_SPACED = 4  # no run of two spaces, no space at either end
NOT_EMPTY = 8
# Texts checked per C call: ~20,000 catalog values take about a millisecond, so the GIL is let go often.
CHECK_STEP = 20_000


def single_line(text: str) -> str:
    """Line breaks and runs of whitespace become one space; controls are dropped."""
    flattened = _LINE_BREAKS.sub(" ", text)
    flattened = _CONTROL.sub("", flattened.replace("\t", " "))
    return _SPACES.sub(" ", flattened).strip()


def is_single_line(text: str) -> bool:
    """True when `single_line(text)` is `text` itself (nearly every catalog value), found without its
    regexes: printable text has no line break, tab or control (no space `str.strip` removes but the
    ASCII one is printable), so only a run of spaces or a space at an end would change."""
    return text.isprintable() and _one_spaced(text)


def _one_spaced(text: str) -> bool:
    """No run of two spaces and no space at either end."""
    return "  " not in text and text[:1] != " " and text[-1:] != " "


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


def indexes_to_fix(texts: list[str], avoid: str, limit: int, checks: int) -> list[int]:
    """The positions of the texts longer than `limit`, holding a character of `avoid` or failing one of
    the `checks`: the few a writer must clean, when the rest are already what cleaning would give."""
    if _text_native is None:
        return python_indexes_to_fix(texts, avoid, limit, checks)
    found: list[int] = []
    for first in range(0, len(texts), CHECK_STEP):
        found += _text_native.indexes_to_fix(texts, first, first + CHECK_STEP, avoid, limit, checks)
    return found


def python_indexes_to_fix(texts: list[str], avoid: str, limit: int, checks: int) -> list[int]:
    """`indexes_to_fix` in Python: the reference the C is tested against, and the path without it."""
    return [index for index, text in enumerate(texts) if not _passes(text, avoid, limit, checks)]


def _passes(text: str, avoid: str, limit: int, checks: int) -> bool:
    return (
        len(text) <= limit
        and not any(character in text for character in avoid)
        and (not checks & ASCII or text.isascii())
        and (not checks & PRINTABLE or text.isprintable())
        and (not checks & ONE_SPACED or _one_spaced(text))
        and (not checks & NOT_EMPTY or text != "")
    )


def fix_some(texts: list[str], fix: Callable[[int], str], indexes: list[int]) -> list[str]:
    """A copy of `texts` with the text at each of `indexes` replaced by `fix(index)`."""
    fixed = list(texts)
    for index in indexes:
        fixed[index] = fix(index)
    return fixed
