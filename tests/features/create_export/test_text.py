"""text.is_single_line: the check writers use to skip single_line's regexes never skips a change."""

from __future__ import annotations

import sys

from features.create_export.text import is_single_line, single_line


def test_text_is_single_line_only_where_single_line_leaves_it_as_it_is() -> None:
    for code_point in range(sys.maxunicode + 1):
        character = chr(code_point)
        for text in (character, f"a{character}b", f"a {character}"):
            if is_single_line(text):
                assert single_line(text) == text, hex(code_point)


def test_line_breaks_tabs_and_extra_spaces_are_not_single_lines() -> None:
    for text in ("a\nb", "a\tb", " a", "a ", "a  b", "a\u2028b", "a\x85b", "a\x00b"):
        assert not is_single_line(text), repr(text)
    assert is_single_line("café ünïcödé € 日本語 שלום")
