"""The export benchmark's asset and its run, on a small scale (the bench times; this checks it works)."""

from __future__ import annotations

import itertools

import pytest

from bench import export_bench
from features.create_export.work_order import CreateExportRequest
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
    arguments = ["--writers", *(f"--{name}={count // 10}" for name, count in SMALL.items())]
    export_bench.main(arguments)
    table = capsys.readouterr().out
    for fmt in SEGMENT_WRITERS:
        assert f"\n{fmt} " in table, fmt
    assert "all formats, all data types" in table


def test_the_catalog_documents_and_work_orders_are_what_the_service_takes() -> None:
    asset = export_bench.generate_asset(SMALL, seed=3)
    documents = export_bench.catalog_documents(asset)
    assert documents == export_bench.catalog_documents(export_bench.generate_asset(SMALL, seed=3))
    assert len(documents) == sum(SMALL.values()) == len({document["_id"] for document in documents})
    starts = [document["start"] for document in documents]
    assert starts != sorted(starts), "stored in no time order"
    orders = {name: CreateExportRequest.model_validate(order) for name, order in export_bench.work_orders().items()}
    assert sum(len(output.formats) for output in orders["twelve"].outputs.requested_types().values()) == 12
    full = orders["full"].outputs
    assert [len(output.formats) for output in full.requested_types().values()] == [9, 9, 9, 9]
    assert full.selects.enabled and orders["full"].user_inputs.llm_instructions


def test_progress_stillness_and_steps_come_from_the_status_samples() -> None:
    def sample(at: float, step: str, status: str = "processing") -> export_bench.Sample:
        return export_bench.Sample(at, 1.0, status, (0, step), None, None)

    result = export_bench.Result("this", "full", seconds=5.0)
    result.samples = [
        sample(0.1, "started"),
        sample(0.2, "reading the catalog: 1,000 documents"),
        sample(1.6, "reading the catalog: 2,000 documents"),
        sample(1.7, "writing events.json"),
        sample(4.0, "writing events.json (2 s)"),
        sample(4.9, "completed", "completed"),
    ]
    assert result.read_seconds() == 1.7
    assert result.longest_still() == pytest.approx(2.3)
    steps = result.steps()
    assert steps["reading the catalog"] == pytest.approx(1.5)
    assert steps["writing events.json"] == pytest.approx(3.2)


def test_the_bracketing_floor_is_the_mean_of_the_finds_around_the_export() -> None:
    from bench.export_bench import Result

    assert Result("this", "full", floor_before=2.0, floor_after=3.0).bracketing_floor() == 2.5
    assert Result("this", "full", floor_before=2.0).bracketing_floor() == 2.0
    assert Result("this", "full").bracketing_floor() is None
