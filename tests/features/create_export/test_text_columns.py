"""The fast paths of the text columns (issue 14) against the computations they replace.

`text.indexes_to_fix` (C, `_text_native`) is compared with its Python reference, and the columns built
on it (the EDL marker names and markers, the FCPXML/xmeml/OTIO names and notes, XML escaping and
attribute values) with the per-segment code they stood for, on awkward text: non-ASCII, line breaks,
`|`, long values, empty values, runs of spaces, controls, and many segments on one frame.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.create_export import text
from features.create_export.segment_table import SegmentTable
from features.create_export.timeline import Segment
from features.create_export.writers import edl, layout

RATE = Fraction(24000, 1001)
# Pieces a writer treats specially, mixed with any text the catalog can hold (no lone surrogate).
SPECIAL = ("|", " ", "  ", "\n", "\r\n", "\t", "\x00", "\x7f", "\x85", "\u00a0", "\u2028", "é", "&", "<", ">", '"')
CATALOG_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
TEXT = st.one_of(
    CATALOG_TEXT,
    st.lists(st.sampled_from(SPECIAL) | CATALOG_TEXT | st.just("x" * 79), max_size=6).map("".join),
    st.text(st.sampled_from("ab |"), max_size=300),  # ASCII around the length limits
)
CHECKS = st.integers(0, text.ASCII | text.PRINTABLE | text.ONE_SPACED | text.NOT_EMPTY)


@given(
    st.lists(TEXT, max_size=30),
    st.text(st.sampled_from('|&<>"é\u2028x'), max_size=3),
    st.integers(0, 300),
    CHECKS,
)
@settings(max_examples=400, deadline=None)
def test_c_precheck_matches_python(texts: list[str], avoid: str, limit: int, checks: int) -> None:
    assert text.indexes_to_fix(texts, avoid, limit, checks) == text.python_indexes_to_fix(texts, avoid, limit, checks)


def test_c_precheck_steps_through_long_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "CHECK_STEP", 7)
    texts = ["ok", "a|b", "", " x", "é", "a  b"] * 10
    assert text.indexes_to_fix(texts, "|", 80, text.ASCII | text.PRINTABLE | text.ONE_SPACED | text.NOT_EMPTY) == [
        index for index in range(len(texts)) if index % 6
    ]


def _segments(draw_values: list[tuple[str, str, int, int]]) -> list[Segment]:
    """Segments from (value, event type, start frame, frames long): few frames, so many share one."""
    return [
        Segment(
            id=f"s-{index:04d}",
            event_type=event_type,
            value=value,
            start=float(frame / RATE),
            end=float((frame + length) / RATE),
            confidence=None,
            source=None,
        )
        for index, (value, event_type, frame, length) in enumerate(draw_values)
    ]


SEGMENTS = st.lists(
    st.tuples(TEXT, st.sampled_from(["", "speech", "café |", "\n"]), st.integers(0, 6), st.integers(0, 3)),
    max_size=40,
).map(_segments)


def _old_merged_name(names: list[str]) -> str:
    kept = [names[0]]
    for name in names[1:]:
        if name and name not in kept and len(edl.NAME_SEPARATOR.join(kept)) < edl.NAME_LIMIT:
            kept.append(name)
    return edl._cut(edl.NAME_SEPARATOR.join(kept), edl.NAME_LIMIT)


def _old_markers(table: SegmentTable) -> tuple[list[int], list[int], list[str], list[int]]:
    """`_Markers.of` as it was: a name and a duration per segment, merged frame by frame."""
    names = [edl._edl_text(s.value, 80) or edl._edl_text(s.event_type, 80) or "marker" for s in table]
    starts, ends = table.start_frames(RATE), table.end_frames(RATE)
    durations = [end - start if end > start else 1 for start, end in zip(starts, ends, strict=True)]
    firsts = [index for index in range(len(starts)) if index == 0 or starts[index] != starts[index - 1]]
    lasts = [first - 1 for first in firsts[1:]] + [len(starts) - 1] if firsts else []
    counts = [last - first + 1 for first, last in zip(firsts, lasts, strict=True)]
    merged_durations = [max(durations[first : first + n]) for first, n in zip(firsts, counts, strict=True)]
    merged_names = [_old_merged_name(names[first : first + n]) for first, n in zip(firsts, counts, strict=True)]
    return firsts, merged_durations, merged_names, counts


@given(SEGMENTS)
@settings(max_examples=300, deadline=None)
def test_edl_markers_match_the_per_segment_computation(segments: list[Segment]) -> None:
    table = SegmentTable(segments)
    markers = edl._Markers.of(table, RATE)
    assert (markers.firsts, markers.durations, markers.names, markers.counts) == _old_markers(table)


def test_edl_merged_name_stops_at_the_limit_as_before() -> None:
    for names in (["x" * 80, "y"], ["x" * 77, "y", "z"], ["a" * 40, "b" * 36, "c"], ["a", "a", "b"] * 500):
        assert edl._merged_name(names) == _old_merged_name(names)


@given(SEGMENTS)
@settings(max_examples=300, deadline=None)
def test_layout_text_columns_match_the_per_segment_computation(segments: list[Segment]) -> None:
    table = SegmentTable(segments)
    names = [layout._name_as_is(s.value) or layout.marker_name(s) for s in table]
    notes = ["" if name == s.value else layout.marker_note(s, name) for s, name in zip(table, names, strict=True)]
    assert layout.marker_names(table) == names
    assert layout.marker_notes(table) == notes
    assert layout.xml_marker_names(table) == [layout.xml_text(name) for name in names]
    assert layout.xml_marker_notes(table) == [layout.xml_text(note) for note in notes]
    escaped = [layout.xml_text(s.value) for s in table]
    assert layout.attributes_from_xml_texts(escaped) == [layout.attribute_from_xml_text(e) for e in escaped]


@pytest.mark.parametrize("native", [True, False], ids=["c", "python"])
def test_columns_are_the_same_without_the_c_build(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not native:
        monkeypatch.setattr(text, "_text_native", None)
    values = ["plain", "a|b", "", "  two  spaces", "line\nbreak", "é ü", "x" * 300, "<&>", 'say "hi"']
    table = SegmentTable(_segments([(value, "speech", 0, 1) for value in values]))
    assert edl._marker_names(table) == [
        edl._edl_text(s.value, 80) or edl._edl_text(s.event_type, 80) or "marker" for s in table
    ]
    assert layout.marker_names(table) == [layout._name_as_is(s.value) or layout.marker_name(s) for s in table]
