"""The export benchmark's asset and its run, on a small scale (the bench times; this checks it works)."""

from __future__ import annotations

import itertools

import pytest

from bench import export_bench
from features.create_export.writers import SEGMENT_WRITERS

SMALL = {"transcript": 300, "events": 2_000, "comments": 200, "markers": 100}


def test_the_asset_is_deterministic_hostile_and_overlapping() -> None:
    asset = export_bench.generate_asset(SMALL, seed=3)
    assert asset == export_bench.generate_asset(SMALL, seed=3)
    assert asset != export_bench.generate_asset(SMALL, seed=4)
    assert {name: len(segments) for name, segments in asset.items()} == SMALL
    values = [segment.value for segments in asset.values() for segment in segments]
    hostile = sum(any(piece in value for piece in export_bench.HOSTILE_PIECES) for value in values)
    assert hostile / len(values) == pytest.approx(export_bench.HOSTILE_SHARE, abs=0.02)
    events = sorted(asset["events"], key=lambda segment: segment.start)
    assert any(later.start < earlier.end for earlier, later in itertools.pairwise(events))


def test_a_small_run_prints_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = [f"--{name}={count // 10}" for name, count in SMALL.items()]
    export_bench.main(arguments)
    table = capsys.readouterr().out
    for fmt in SEGMENT_WRITERS:
        assert f"\n{fmt} " in table, fmt
    assert "all formats, all data types" in table
