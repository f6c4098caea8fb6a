"""build_select_ranges: widening by the handle, clamping to the media, merging overlaps and touches."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.create_export.selects import build_select_ranges
from features.create_export.timeline import Segment


def segment(start: float, end: float, value: str = "v", segment_id: str | None = None) -> Segment:
    return Segment(id=segment_id or f"id-{start}-{end}", event_type="comment", value=value, start=start, end=end)


def bounds(ranges) -> list[tuple[float, float]]:
    return [(r.start, r.end) for r in ranges]


def test_a_segment_is_widened_by_the_handle_on_both_sides():
    assert bounds(build_select_ranges([segment(10.0, 12.0)], 2.0, None)) == [(8.0, 14.0)]


def test_the_start_is_clamped_at_zero():
    assert bounds(build_select_ranges([segment(1.0, 2.0)], 2.0, None)) == [(0.0, 4.0)]


def test_the_end_is_clamped_at_known_media_duration():
    assert bounds(build_select_ranges([segment(58.0, 59.0)], 2.0, 60.0)) == [(56.0, 60.0)]


def test_without_media_duration_the_end_is_not_clamped():
    assert bounds(build_select_ranges([segment(58.0, 59.0)], 2.0, None)) == [(56.0, 61.0)]


def test_overlapping_ranges_merge_with_labels_and_ids_in_start_order():
    later = segment(13.0, 15.0, "second", "b")
    earlier = segment(10.0, 12.0, "first", "a")
    [merged] = build_select_ranges([later, earlier], 1.0, None)
    assert (merged.start, merged.end) == (9.0, 16.0)
    assert merged.label == "first / second"
    assert merged.source_ids == ("a", "b")


def test_touching_ranges_merge():
    # 10-12 and 14-16 widened by 1 meet exactly at 13.
    assert bounds(build_select_ranges([segment(10.0, 12.0), segment(14.0, 16.0)], 1.0, None)) == [(9.0, 17.0)]


def test_ranges_with_a_gap_stay_apart_and_come_out_sorted():
    ranges = build_select_ranges([segment(14.5, 16.0), segment(10.0, 12.0)], 1.0, None)
    assert bounds(ranges) == [(9.0, 13.0), (13.5, 17.0)]


def test_touching_is_decided_exactly_not_in_float():
    # In float, 0.7 + 0.1 is 0.7999999999999999 and 0.9 - 0.1 is 0.8: a gap that is not there.
    assert 0.7 + 0.1 < 0.9 - 0.1
    ranges = build_select_ranges([segment(0.0, 0.7), segment(0.9, 1.0)], 0.1, None)
    assert bounds(ranges) == [(0.0, 1.1)]


def test_widened_bounds_are_the_exact_decimals():
    [only] = build_select_ranges([segment(0.3, 0.4)], 0.1, None)
    assert (only.start, only.end) == (0.2, 0.5)


def test_a_zero_length_range_is_dropped():
    assert build_select_ranges([segment(5.0, 5.0)], 0.0, None) == []


def test_a_zero_length_segment_on_the_edge_of_a_range_joins_it():
    [merged] = build_select_ranges([segment(3.0, 5.0, "a", "a"), segment(5.0, 5.0, "b", "b")], 0.0, None)
    assert (merged.start, merged.end, merged.source_ids) == (3.0, 5.0, ("a", "b"))


def test_a_segment_after_the_media_end_is_dropped():
    assert build_select_ranges([segment(70.0, 72.0)], 2.0, 60.0) == []


def test_a_segment_whose_handle_reaches_into_the_media_keeps_that_part():
    assert bounds(build_select_ranges([segment(61.0, 62.0)], 2.0, 60.0)) == [(59.0, 60.0)]


def test_zero_media_duration_leaves_nothing():
    assert build_select_ranges([segment(0.0, 2.0)], 1.0, 0.0) == []


def test_labels_are_one_line_skip_blank_values_and_are_truncated():
    parts = [segment(1.0, 2.0, "line\none"), segment(1.5, 2.5, "   "), segment(2.0, 3.0, "y" * 400)]
    [merged] = build_select_ranges(parts, 0.0, None)
    assert merged.label.startswith("line one / yyy")
    assert len(merged.label) == 255
    assert merged.label.endswith("…")
    assert "\n" not in merged.label


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_a_handle_that_is_not_a_non_negative_number_is_refused(bad):
    with pytest.raises(ValueError, match="handle_seconds"):
        build_select_ranges([segment(1.0, 2.0)], bad, None)


def test_a_negative_media_duration_is_refused():
    with pytest.raises(ValueError, match="media_duration"):
        build_select_ranges([segment(1.0, 2.0)], 0.0, -1.0)


def test_empty_input_gives_no_ranges():
    assert build_select_ranges([], 2.0, 10.0) == []


# Millisecond times, as catalogs hold them; exact in Decimal, so the checks below are exact too.
milliseconds = st.integers(min_value=0, max_value=4_000_000)
segments_strategy = st.lists(
    st.tuples(milliseconds, st.integers(min_value=0, max_value=20_000)), min_size=0, max_size=40
).map(
    lambda pairs: [
        Segment(id=f"s{index}", event_type="t", value=f"v{index}", start=start / 1000, end=(start + length) / 1000)
        for index, (start, length) in enumerate(pairs)
    ]
)


def exact(seconds: float) -> Fraction:
    return Fraction(Decimal(repr(seconds)))


def clamped(item: Segment, handle: Fraction, media: Fraction | None) -> tuple[Fraction, Fraction]:
    start = max(Fraction(0), exact(item.start) - handle)
    end = exact(item.end) + handle
    return start, end if media is None else min(end, media)


@settings(max_examples=300, deadline=None)
@given(
    items=segments_strategy,
    handle_tenths=st.integers(min_value=0, max_value=300),
    media_ms=st.none() | st.integers(min_value=0, max_value=4_100_000),
)
def test_ranges_are_sorted_disjoint_inside_the_media_and_cover_every_segment(items, handle_tenths, media_ms):
    handle = Fraction(handle_tenths, 10)
    media = None if media_ms is None else Fraction(media_ms, 1000)
    ranges = build_select_ranges(items, handle_tenths / 10, None if media_ms is None else media_ms / 1000)

    for earlier, later in itertools.pairwise(ranges):
        # Strictly apart: touching ranges must have been merged.
        assert exact(earlier.end) < exact(later.start)
    for r in ranges:
        assert 0 <= exact(r.start) < exact(r.end)
        assert media is None or exact(r.end) <= media

    by_id = {item.id: item for item in items}
    seen = [source_id for r in ranges for source_id in r.source_ids]
    assert len(seen) == len(set(seen))
    for r in ranges:
        # Tight: each range is exactly the union of its own segments' clamped ranges.
        parts = [clamped(by_id[source_id], handle, media) for source_id in r.source_ids]
        assert exact(r.start) == min(start for start, _ in parts)
        assert exact(r.end) == max(end for _, end in parts)

    for item in items:
        start, end = clamped(item, handle, media)
        if end > start:
            holders = [r for r in ranges if exact(r.start) <= start and end <= exact(r.end)]
            assert len(holders) == 1
            assert item.id in holders[0].source_ids
