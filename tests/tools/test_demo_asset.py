"""The demo asset: deterministic, the sizes promised, hostile text, and each defect exactly as intended."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from typing import Any

import pytest
from bson import ObjectId, json_util

from tools.demo_asset import (
    DEMO_DURATION_SECONDS,
    DEMO_FULL_PATH,
    DEMO_REPO_GUID,
    asset_filter,
    generate_demo_asset,
    generate_demo_documents,
    load_demo_asset,
    main,
)

ASSET = generate_demo_asset()
BROKEN_IDS = set(ASSET.broken.values())
GOOD = [document for document in ASSET.documents if document["_id"] not in BROKEN_IDS]
COMMENT_TYPES = {"comment", "insight"}
VISUAL_TYPES = {"label", "ocr", "face", "logo", "object"}


def _data_type(document: dict[str, Any]) -> str:
    event_type = document["sdnaEventType"]
    if event_type in ("transcript", "marker"):
        return event_type + "s" if event_type == "marker" else event_type
    return "comments" if event_type in COMMENT_TYPES else "events"


def _broken(kind: str) -> dict[str, Any]:
    [document] = [document for document in ASSET.documents if document["_id"] == ASSET.broken[kind]]
    return document


def test_same_seed_same_documents() -> None:
    # Extended JSON, because NaN != NaN would make a plain == fail on identical lists.
    assert json_util.dumps(generate_demo_documents(2026)) == json_util.dumps(generate_demo_documents(2026))
    assert json_util.dumps(generate_demo_documents()) == json_util.dumps(ASSET.documents)


def test_another_seed_gives_other_ids_and_times_but_the_same_sizes() -> None:
    other = generate_demo_documents(7)

    assert {d["_id"] for d in other}.isdisjoint({d["_id"] for d in ASSET.documents} - {"legacy-42"})
    assert [d["start"] for d in other[:20]] != [d["start"] for d in ASSET.documents[:20]]
    # Keyword spotting depends on where the seeded cuts fall; labels make up the difference.
    assert Counter(map(_data_type, other)) == Counter(map(_data_type, ASSET.documents))
    assert len(other) == len(ASSET.documents)


def test_counts_per_data_type() -> None:
    counts = Counter(_data_type(document) for document in GOOD)

    assert counts == {"transcript": 250, "events": 2000, "comments": 25, "markers": 10}
    assert len(ASSET.documents) == 2285 + 7


def test_event_types_are_varied() -> None:
    types = Counter(document["sdnaEventType"] for document in GOOD if _data_type(document) == "events")

    assert {"label", "ocr", "face", "topic", "sentiment", "speaker", "logo"} <= set(types)
    assert all(count >= 20 for count in types.values())


def test_every_document_belongs_to_the_demo_asset_and_ids_are_unique() -> None:
    assert {(d["repoGuid"], d["fullPath"]) for d in ASSET.documents} == {(DEMO_REPO_GUID, DEMO_FULL_PATH)}
    ids = [document["_id"] for document in ASSET.documents]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(document["_id"], ObjectId) for document in GOOD)


def test_good_documents_have_sane_times_within_the_asset() -> None:
    for document in GOOD:
        start, end = document["start"], document["end"]
        assert isinstance(start, float), document
        assert isinstance(end, float), document
        assert 0 <= start <= end <= DEMO_DURATION_SECONDS, document


def test_good_documents_have_text_values_and_scores_in_range() -> None:
    for document in GOOD:
        assert isinstance(document["eventValue"], str), document
        assert document["eventValue"].strip(), document
        if "confidenceScore" in document:
            assert 0 <= document["confidenceScore"] <= 100, document
    scores = {d.get("confidenceScore") for d in GOOD}
    assert {0.0, 100.0} <= scores


def test_visual_events_carry_boxes() -> None:
    visual = [document for document in GOOD if document["sdnaEventType"] in VISUAL_TYPES]
    assert len(visual) > 1000
    for document in visual:
        assert document["positions"], document
        for box in document["positions"]:
            assert set(box) == {"x", "y", "w", "h"}
            assert 0 <= box["x"] <= box["x"] + box["w"] <= 1
            assert 0 <= box["y"] <= box["y"] + box["h"] <= 1


def test_transcript_is_a_contiguous_two_speaker_interview() -> None:
    transcript = [document for document in GOOD if document["sdnaEventType"] == "transcript"]
    for before, after in itertools.pairwise(transcript):
        assert before["end"] <= after["start"] < before["end"] + 3
    assert transcript[-1]["end"] > DEMO_DURATION_SECONDS - 10
    speakers = Counter(d["eventValue"] for d in GOOD if d["sdnaEventType"] == "speaker")
    assert set(speakers) == {"Speaker 1", "Speaker 2"}


HOSTILE = {
    "comma": lambda text: "," in text,
    "double quote": lambda text: '"' in text,
    "single quote": lambda text: "'" in text,
    "line break": lambda text: "\n" in text,
    "blank line": lambda text: "\n\n" in text,
    "CRLF": lambda text: "\r\n" in text,
    "tab": lambda text: "\t" in text,
    "arrow": lambda text: "-->" in text,
    "pipe": lambda text: "|" in text,
    "html": lambda text: "<" in text and "&" in text,
    "formula =": lambda text: text.startswith("="),
    "formula +": lambda text: text.startswith("+"),
    "formula -": lambda text: text.startswith("-"),
    "formula @": lambda text: text.startswith("@"),
    "Hebrew": lambda text: re.search("[\u0590-\u05ff]", text),
    "Arabic": lambda text: re.search("[\u0600-\u06ff]", text),
    "Japanese kana": lambda text: re.search("[\u3040-\u30ff]", text),
    "Chinese": lambda text: re.search("[\u4e00-\u9fff]", text),
    "Cyrillic": lambda text: re.search("[\u0400-\u04ff]", text),
    "emoji": lambda text: re.search("[\U0001f300-\U0001faff]", text),
    "long": lambda text: len(text) > 1000,
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_text_is_present(name: str) -> None:
    assert any(HOSTILE[name](document["eventValue"]) for document in GOOD)


@pytest.mark.parametrize("name", ["comma", "double quote", "single quote", "line break", "arrow", "Hebrew", "Arabic"])
def test_hostile_text_reaches_the_transcript(name: str) -> None:
    transcript = [d["eventValue"] for d in GOOD if d["sdnaEventType"] == "transcript"]
    assert any(HOSTILE[name](text) for text in transcript)


def test_broken_kinds_are_the_ones_spec_lists() -> None:
    assert set(ASSET.broken) == {
        "end_before_start",
        "missing_end",
        "negative_start",
        "nan_start",
        "duplicate",
        "empty_value",
        "non_objectid_id",
    }


def test_end_before_start() -> None:
    document = _broken("end_before_start")
    assert _finite_times(document)
    assert document["end"] < document["start"]
    assert [d for d in ASSET.documents if _finite_times(d) and d["end"] < d["start"]] == [document]


def test_missing_end() -> None:
    document = _broken("missing_end")
    assert "end" not in document
    assert [d for d in ASSET.documents if "end" not in d] == [document]


def test_negative_start() -> None:
    document = _broken("negative_start")
    assert document["start"] < 0 <= document["end"]
    assert [d for d in ASSET.documents if d["start"] < 0] == [document]


def test_nan_start() -> None:
    document = _broken("nan_start")
    assert math.isnan(document["start"])
    assert math.isfinite(document["end"])
    assert [d for d in ASSET.documents if math.isnan(d["start"])] == [document]


def test_duplicate_is_the_same_content_under_another_id() -> None:
    document = _broken("duplicate")
    [original] = [d for d in ASSET.documents if d["_id"] == ASSET.duplicate_of]

    assert document["_id"] != original["_id"]
    assert {**document, "_id": None} == {**original, "_id": None}
    fingerprints = Counter(json_util.dumps({**d, "_id": None}) for d in ASSET.documents)
    assert [count for count in fingerprints.values() if count > 1] == [2]


def test_empty_value() -> None:
    document = _broken("empty_value")
    assert document["eventValue"] == ""
    assert [d for d in ASSET.documents if not d["eventValue"].strip()] == [document]


def test_id_that_is_not_an_object_id() -> None:
    document = _broken("non_objectid_id")
    assert document["_id"] == "legacy-42"
    assert not ObjectId.is_valid(document["_id"])
    assert [d for d in ASSET.documents if not isinstance(d["_id"], ObjectId)] == [document]


def test_broken_documents_are_otherwise_ordinary() -> None:
    for kind in ASSET.broken:
        document = _broken(kind)
        assert (document["repoGuid"], document["fullPath"]) == (DEMO_REPO_GUID, DEMO_FULL_PATH)
        assert isinstance(document["eventValue"], str)
    types = {kind: _broken(kind)["sdnaEventType"] for kind in ASSET.broken}
    assert set(types.values()) >= {"transcript", "label", "ocr", "comment", "insight", "marker"}


def test_broken_documents_sit_among_good_ones() -> None:
    positions = [index for index, d in enumerate(ASSET.documents) if d["_id"] in BROKEN_IDS]
    assert positions[0] < len(ASSET.documents) // 2
    assert positions[-1] < len(ASSET.documents) - 1


def test_dump_prints_one_extended_json_document_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--dump", "--seed", "2026"])

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ASSET.documents)
    assert json_util.dumps(json_util.loads(lines[0])) == json_util.dumps(ASSET.documents[0])
    assert any("NaN" in line for line in lines)


def _finite_times(document: dict[str, Any]) -> bool:
    return all(isinstance(document.get(name), float) and math.isfinite(document[name]) for name in ("start", "end"))


async def test_load_is_idempotent_and_touches_only_the_demo_asset(catalog) -> None:
    collection = catalog
    await collection.insert_one({**ASSET.documents[0], "_id": ObjectId(), "repoGuid": "other-repo"})

    written = [await load_demo_asset(collection) for _ in range(2)]

    assert written == [len(ASSET.documents)] * 2
    assert await collection.count_documents(asset_filter()) == len(ASSET.documents)
    assert await collection.count_documents({"repoGuid": "other-repo"}) == 1
    stored = await collection.find_one({"_id": ASSET.broken["nan_start"]})
    # MongoDB keeps NaN; FerretDB v1 refuses it, and the loader stores the text "NaN" instead.
    assert stored["start"] == "NaN" or math.isnan(stored["start"])
    assert await collection.find_one({"_id": "legacy-42"}) is not None
