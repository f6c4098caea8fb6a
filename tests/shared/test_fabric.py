"""The Fabric client against a real database (catalog) and respx (insight API)."""

from __future__ import annotations

import logging
import math

import httpx
import pytest
import respx
from bson import ObjectId

from shared.fabric import (
    INSIGHTS_PATH,
    CatalogEvent,
    FabricApi,
    FabricPermanentError,
    FabricTransientError,
    batches,
    catalog_query,
    insight_body,
    read_catalog,
    repair_document,
    retry_after_seconds,
)

FABRIC = "https://fabric.example"


def event(repo: str, path: str, start: float, value: str, **extra) -> dict:
    return {
        "repoGuid": repo,
        "fullPath": path,
        "sdnaEventType": "label",
        "eventValue": value,
        "start": start,
        "end": start + 1,
        **extra,
    }


# --- catalog scoping ----------------------------------------------------------------------------


async def test_two_repositories_sharing_ids_and_paths_never_mix(catalog) -> None:
    shared_id = ObjectId()
    await catalog.insert_many(
        [
            {**event("repo-a", "/same.mov", 1, "from A"), "_id": shared_id},
            event("repo-a", "/same.mov", 2, "also A"),
            {**event("repo-b", "/same.mov", 1, "from B"), "_id": "legacy-1"},
            event("repo-b", "/same.mov", 3, "also B"),
        ]
    )
    read_a = await read_catalog(catalog, "repo-a", "/same.mov")
    read_b_by_ids = await read_catalog(catalog, "repo-b", None, [str(shared_id), "legacy-1"])

    assert [e.value for e in read_a.events] == ["from A", "also A"]
    assert [e.value for e in read_b_by_ids.events] == ["from B"]


def test_a_catalog_query_cannot_be_built_without_a_repository() -> None:
    with pytest.raises(ValueError, match="repo_guid"):
        catalog_query("", "/x.mov")
    assert catalog_query("r", "/x.mov")["repoGuid"] == "r"


async def test_events_stream_in_start_order(catalog) -> None:
    await catalog.insert_many([event("r", "/a.mov", start, f"at {start}") for start in (9.5, 10.0, 0.25, 3)])
    read = await read_catalog(catalog, "r", "/a.mov")
    assert [e.start for e in read.events] == [0.25, 3, 9.5, 10.0]


# --- repairs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected_start", "expected_end", "code"),
    [
        ({"start": 5.0, "end": 2.0}, 5.0, 5.0, "end_before_start"),
        ({"start": 5.0}, 5.0, 5.0, "bad_end"),
        ({"start": -2.0, "end": 3.0}, 0.0, 3.0, "negative_time"),
        ({"start": 1.0, "end": math.nan}, 1.0, 1.0, "bad_end"),
    ],
)
def test_repairable_documents_are_repaired_with_a_warning(document, expected_start, expected_end, code) -> None:
    repaired, warnings = repair_document({"_id": ObjectId(), "sdnaEventType": "label", "eventValue": "x", **document})
    assert isinstance(repaired, CatalogEvent)
    assert (repaired.start, repaired.end) == (expected_start, expected_end)
    assert code in [w.code for w in warnings]


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ({"start": math.nan, "end": 1.0}, "bad_start"),
        ({"start": "soon", "end": 1.0}, "bad_start"),
        ({"start": -5.0, "end": -1.0}, "negative_time"),
        ({"start": 1.0, "end": 2.0, "sdnaEventType": None}, "missing_type"),
    ],
)
def test_unusable_documents_are_skipped_with_a_warning(document, code) -> None:
    repaired, warnings = repair_document({"_id": ObjectId(), "sdnaEventType": "label", "eventValue": "x", **document})
    assert repaired is None
    assert [w.code for w in warnings][-1] == code


def test_non_objectid_ids_are_kept_as_text_with_a_warning() -> None:
    repaired, warnings = repair_document(
        {
            "_id": "legacy-42",
            "sdnaEventType": "label",
            "eventValue": None,
            "start": 1,
            "end": 2,
            "confidenceScore": math.inf,
            "positions": [{"x": math.nan, "y": 0.5}],
        }
    )
    assert repaired is not None and repaired.id == "legacy-42"
    assert repaired.value == "" and repaired.confidence is None
    assert repaired.positions == [{"x": None, "y": 0.5}]
    assert {"id_not_objectid", "empty_value"} <= {w.code for w in warnings}


async def test_duplicates_are_skipped_and_bad_documents_never_stop_the_read(catalog) -> None:
    await catalog.insert_many(
        [
            event("r", "/a.mov", 1, "same"),
            event("r", "/a.mov", 1, "same"),
            # FerretDB cannot store NaN (real MongoDB can); a null start takes the same path.
            {**event("r", "/a.mov", 2, "no start"), "start": None},
            event("r", "/a.mov", 3, "fine"),
        ]
    )
    read = await read_catalog(catalog, "r", "/a.mov")
    assert [e.value for e in read.events] == ["same", "fine"]
    assert sorted(w.code for w in read.warnings) == ["bad_start", "duplicate"]


# --- insight push --------------------------------------------------------------------------------


def api(make_settings, **overrides) -> FabricApi:
    values = {"fabric_api_url": FABRIC, "fabric_api_key": "secret-key", "fabric_api_timeout": 2.0, **overrides}
    return FabricApi(make_settings(**values))


def test_bodies_follow_the_spec() -> None:
    body = insight_body("repo", "/media/show/ep1.mov", [{"insight": "x", "start": 1, "end": 2}], tag="llm")
    assert body == {
        "repoGuid": "repo",
        "fullPath": "/media/show/ep1.mov",
        "fileName": "ep1.mov",
        "insightEvents": [{"insight": "x", "start": 1, "end": 2}],
        "tag": "llm",
    }
    assert "tag" not in insight_body("repo", "/a.mov", [])
    assert [len(b) for b in batches(list(range(1250)), 500)] == [500, 500, 250]


@respx.mock
async def test_push_sends_the_api_key_and_idempotency_key(make_settings, caplog) -> None:
    route = respx.post(FABRIC + INSIGHTS_PATH).mock(return_value=httpx.Response(201, json={"ok": True}))
    fabric = api(make_settings)
    with caplog.at_level(logging.DEBUG):
        accepted = await fabric.push_insights(insight_body("r", "/a.mov", []), "import-1:0")
    await fabric.aclose()

    assert accepted.status == 201
    request = route.calls.last.request
    assert request.headers["apiKey"] == "secret-key"
    assert request.headers["Idempotency-Key"] == "import-1:0"
    assert "secret-key" not in caplog.text


@pytest.mark.parametrize(
    ("response", "kind", "retry_after"),
    [
        (httpx.Response(400, text="bad field " * 100), FabricPermanentError, None),
        (httpx.Response(404), FabricPermanentError, None),
        (httpx.Response(408), FabricTransientError, None),
        (httpx.Response(429, headers={"Retry-After": "2"}), FabricTransientError, 2.0),
        (httpx.Response(500), FabricTransientError, None),
        (httpx.Response(503, headers={"Retry-After": "7"}), FabricTransientError, 7.0),
    ],
)
@respx.mock
async def test_every_answer_is_classified(make_settings, response, kind, retry_after) -> None:
    respx.post(FABRIC + INSIGHTS_PATH).mock(return_value=response)
    fabric = api(make_settings)
    with pytest.raises(kind) as raised:
        await fabric.push_insights(insight_body("r", "/a.mov", []), "k")
    await fabric.aclose()

    assert raised.value.status == response.status_code
    assert len(raised.value.message) <= len("Fabric answered 400: ") + 500
    if kind is FabricTransientError:
        assert raised.value.retry_after == retry_after


@pytest.mark.parametrize(
    ("side_effect", "words"),
    [(httpx.ConnectError("Connection refused"), "cannot reach"), (httpx.ReadTimeout("slow"), "did not answer")],
)
@respx.mock
async def test_transport_failures_are_transient(make_settings, side_effect, words) -> None:
    respx.post(FABRIC + INSIGHTS_PATH).mock(side_effect=side_effect)
    fabric = api(make_settings)
    with pytest.raises(FabricTransientError, match=words):
        await fabric.push_insights(insight_body("r", "/a.mov", []), "k")
    await fabric.aclose()


async def test_a_real_refused_connection_is_transient(make_settings) -> None:
    from tools.embedded_mongo import free_port

    fabric = api(make_settings, fabric_api_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(FabricTransientError, match="cannot reach"):
        await fabric.push_insights(insight_body("r", "/a.mov", []), "k")
    await fabric.aclose()


async def test_push_without_a_configured_api_is_permanent(make_settings) -> None:
    fabric = FabricApi(make_settings(fabric_api_url=None))
    with pytest.raises(FabricPermanentError, match="FABRIC_API_URL"):
        await fabric.push_insights(insight_body("r", "/a.mov", []), "k")
    await fabric.aclose()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:05 GMT", now) == 5.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_the_fast_path_makes_exactly_what_the_repair_makes() -> None:
    """`repair_document` takes a shortcut for documents that need no repair (issue 14): for every
    mix of clean and awkward fields, the shortcut either declines or gives the repair's event."""
    from itertools import product

    from shared import fabric

    ids = [ObjectId("5f0000000000000000000001"), "text-id", 7]
    types = ["face", "  ", None, 3]
    values = ["a value", "", "  ", None, 12]
    times = [0.0, 1.5, -1.0, math.nan, math.inf, 2, None, True]
    confidences = [None, 0.5, math.nan, 80, False]
    extras = [{}, {"source": "asr", "fullPath": "/a.mov"}, {"source": 3, "fullPath": None}, {"positions": [1]}]
    checked = 0
    for raw_id, kind, value, start, end, confidence, extra in product(
        ids, types, values, times, times, confidences, extras
    ):
        document = {"_id": raw_id, "sdnaEventType": kind, "eventValue": value, "start": start, "end": end}
        if confidence is not None:
            document["confidenceScore"] = confidence
        document.update(extra)
        fast = fabric._clean_event(document)
        if fast is not None:
            checked += 1
            assert fabric._repair(document) == (fast, [])
    assert checked > 0


def test_a_decimal128_sorts_among_the_numbers_as_in_mongodb() -> None:
    from bson import Decimal128

    from shared.fabric import bson_order

    values = ["a", Decimal128("2.5"), 3, None, 1.0, Decimal128("NaN")]
    ordered = sorted(values, key=bson_order)

    assert ordered[0] is None and ordered[-1] == "a"
    assert [str(value) for value in ordered[1:-1]] == ["NaN", "1.0", "2.5", "3"]


@pytest.mark.parametrize("ordering", ["c", "python"])
def test_batches_come_out_as_the_databases_sort_would_give_them(ordering, monkeypatch) -> None:
    """Batches repaired apart and assembled (issue 14: clean events ordered by start and id, dirty
    documents merged in by key) give exactly what one walk in `sort({start: 1, _id: 1})` order
    gives: the same events, the first of two duplicates kept, the same warnings in the same order;
    the events then in (start, id) order, the order the files are written in. With the ordering in
    C and in Python."""
    import random

    from bson import Decimal128

    from shared import fabric
    from shared.fabric import assemble, bson_order, repair_batch

    assert fabric._event_order_native is not None
    if ordering == "python":
        monkeypatch.setattr(fabric, "_event_order_native", None)

    rng = random.Random(14)
    starts = [0.0, 0.5, 1.0, 2.0, 2, -1.0, -0.0, None, Decimal128("1.0"), True, "3", math.inf]
    for case in range(40):
        clean_share = (1.0, 0.99, 0.8)[case % 3]  # all clean (the fast path), a few dirty, many
        documents = []
        for number in range(rng.randint(1, 400)):
            clean = rng.random() < clean_share
            document = {
                "_id": ObjectId() if clean or rng.random() < 0.5 else f"legacy-{number}",
                "sdnaEventType": rng.choice(["face", "logo"]),
                "eventValue": rng.choice(["a", "b"]),
                "start": rng.choice(starts[:3]) if clean else rng.choice(starts),
                "end": rng.choice([2.0, 3.0]),
            }
            if not clean and rng.random() < 0.3:
                document["eventValue"] = ""
            documents.append(document)
        rng.shuffle(documents)

        in_order = sorted(documents, key=lambda d: bson_order(d.get("start")) + bson_order(d.get("_id")))
        expected_events, expected_warnings, seen = [], [], set()
        for document in in_order:
            event, warnings = repair_document(document)
            expected_warnings += [(warning.event_id, warning.code) for warning in warnings]
            if event is None:
                continue
            if (event.event_type, event.value, event.start, event.end) in seen:
                expected_warnings.append((event.id, "duplicate"))
                continue
            seen.add((event.event_type, event.value, event.start, event.end))
            expected_events.append(event)
        expected_events.sort(key=lambda event: (event.start, event.id))

        size = rng.randint(1, 50)
        read = assemble([repair_batch(documents[at : at + size]) for at in range(0, len(documents), size)])
        assert read.events == expected_events
        assert [(warning.event_id, warning.code) for warning in read.warnings] == expected_warnings


# --- ordering in C (shared/_event_order_native.c) ------------------------------------------------


def test_the_c_order_is_the_python_order_for_any_runs(monkeypatch) -> None:
    """`order_by_start` in C and in Python: the same list (by identity) and the same tie runs, over
    random runs with many equal starts, -0.0 beside 0.0, and the same (start, id) twice."""
    import random

    from shared import fabric
    from shared.fabric import CatalogEvent, order_by_start

    rng = random.Random(41)
    for _ in range(60):
        runs = [
            [
                CatalogEvent(
                    id=rng.choice(["a", "b", "c", str(ObjectId())]),
                    event_type="face",
                    value=str(number),
                    start=rng.choice([0.0, -0.0, 0.5, 1.0, 1e-9, 3600.25, rng.random()]),
                    end=4000.0,
                )
                for number in range(rng.randint(0, 60))
            ]
            for _ in range(rng.randint(0, 6))
        ]
        native_events, native_ties = order_by_start(runs)
        with monkeypatch.context() as python:
            python.setattr(fabric, "_event_order_native", None)
            python_events, python_ties = order_by_start(runs)
        assert [id(event) for event in native_events] == [id(event) for event in python_events]
        assert native_ties == python_ties
        keys = [(event.start, event.id) for event in native_events]
        assert keys == sorted(keys)
        assert sum(len(run) for run in runs) == len(native_events)


def test_the_c_order_refuses_what_it_cannot_order() -> None:
    from shared import _event_order_native
    from shared.fabric import CatalogEvent

    def event(start, event_id="a") -> CatalogEvent:
        return CatalogEvent(id=event_id, event_type="face", value="v", start=start, end=9.0)

    for bad in ([[event(math.nan)]], [[event(1.0), event(math.inf)]], [[event(1)]], [[event(1.0, 7)]]):
        with pytest.raises(TypeError):
            _event_order_native.order_by_start(bad)
    for not_lists in ((event(1.0),), [(event(1.0),)], [[object()]]):
        with pytest.raises((TypeError, AttributeError)):
            _event_order_native.order_by_start(not_lists)
    assert _event_order_native.order_by_start([]) == ([], [])


# --- the clean path in C (shared/_catalog_native.c) -----------------------------------------------


def bson_of(*pairs: tuple[str, object]) -> bytes:
    """A BSON document of the pairs in this order, keys repeated if given twice (a dict cannot)."""
    import bson

    elements = b"".join(bson.encode({key: value})[4:-1] for key, value in pairs)
    return (len(elements) + 5).to_bytes(4, "little") + elements + b"\x00"


def splice(document: bytes, element: bytes) -> bytes:
    """The document with one more element, given as its raw bytes, at its end."""
    elements = document[4:-1] + element
    return (len(elements) + 5).to_bytes(4, "little") + elements + b"\x00"


def awkward_documents() -> list[bytes]:
    """Every mix of clean and awkward fields of the fast-path test, plus repeated keys, other
    types around them and text that only looks non-empty."""
    import re
    from datetime import datetime
    from itertools import product

    from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, Regex, Timestamp

    ids = [ObjectId("5f0000000000000000000001"), "text-id", 7]
    types = ["face", "  ", "\u3000\u2003", None, 3]
    values = ["a value", "", " é ", None, 12]
    times = [0.0, 1.5, -1.0, -0.0, math.nan, math.inf, 2, Int64(2), None, True]
    confidences = [None, 0.5, math.nan, 80]
    extras = [
        [],
        [("source", "asr"), ("fullPath", "/a.mov")],
        [("source", 3), ("fullPath", None)],
        [("positions", [1])],
        [("positions", None)],
        [("other", {"nested": [1, {"a": b"\x00"}]}), ("bin", Binary(b"xy", 5)), ("when", datetime(2026, 1, 1))],
        [("dec", Decimal128("1.5")), ("code", Code("f()")), ("ts", Timestamp(1, 2)), ("keys", [MinKey(), MaxKey()])],
        [("pattern", Regex("a.*", re.I)), ("pointer", DBRef("c", 1)), ("empty", Regex("", ""))],
    ]
    documents = []
    for raw_id, kind, value, start, end, confidence, extra in product(
        ids, types, values, times, times[:4], confidences, extras
    ):
        pairs = [("_id", raw_id), ("sdnaEventType", kind), ("eventValue", value), ("start", start), ("end", end)]
        pairs = [(key, item) for key, item in pairs if item is not None or key == "eventValue"]
        if confidence is not None:
            pairs.append(("confidenceScore", confidence))
        documents.append(bson_of(*pairs, *extra))
    clean = [("_id", ObjectId()), ("sdnaEventType", "face"), ("eventValue", "v"), ("start", 1.0), ("end", 2.0)]
    documents += [
        bson_of(*clean, ("eventValue", "")),  # the last of two equal keys wins, as in a dict
        bson_of(*clean[:2], ("eventValue", ""), *clean[2:]),
        bson_of(*clean, ("start", 3.0)),
        bson_of(*clean, ("positions", [1]), ("positions", None)),
        # A deprecated DB pointer (0x0C: a string and an ObjectId), which PyMongo reads as a DBRef.
        splice(bson_of(*clean), b"\x0cpointer\x00\x02\x00\x00\x00c\x00" + bytes(12)),
    ]
    return documents


def test_the_c_scan_makes_exactly_what_the_python_clean_path_makes() -> None:
    """For each document, `scan_batch` gives the event `_clean_event` gives for it decoded, or
    hands it back (by offset and length) exactly when `_clean_event` declines it."""
    import bson

    from shared import _catalog_native, fabric

    documents = awkward_documents()
    batch = b"".join(documents)
    clean, others = _catalog_native.scan_batch(batch, fabric.EVENT_SLOTS)
    called, called_others = _catalog_native.scan_batch(batch, CatalogEvent)  # the constructor called
    assert (called, called_others) == (clean, others)

    expected_clean, expected_others, offset = [], [], 0
    for raw in documents:
        event = fabric._clean_event(bson.decode(raw))
        if event is None:
            expected_others.append((offset, len(raw)))
        else:
            expected_clean.append(event)
        offset += len(raw)
    assert clean == expected_clean
    assert others == expected_others
    assert 0 < len(clean) < len(documents)
    assert _catalog_native.count_documents(batch) == len(documents)


def test_events_made_from_their_slots_are_whole_frozen_events() -> None:
    import dataclasses

    from shared import _catalog_native, fabric

    raw = bson_of(("_id", ObjectId()), ("sdnaEventType", "face"), ("eventValue", "v"), ("start", 1.0), ("end", 2.0))
    event = _catalog_native.scan_batch(raw * 3, fabric.EVENT_SLOTS)[0][0]
    assert type(event) is CatalogEvent and event.positions is None and event.full_path is None
    assert hash(event) == hash(dataclasses.replace(event)) and repr(event).startswith("CatalogEvent(id=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.value = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError, match="nine field names"):
        _catalog_native.scan_batch(raw, (CatalogEvent, ("id",)))
    with pytest.raises(TypeError, match="not a plain slot"):
        _catalog_native.scan_batch(
            raw,
            (
                CatalogEvent,
                ("id", "start", "end", "value", "source", "positions", "full_path", "confidence", "__class__"),
            ),
        )
    with pytest.raises(AttributeError):
        _catalog_native.scan_batch(raw, (CatalogEvent, ("nothing",) * 9))
    # Slots of another class, set on this one: their offsets are outside its instances.
    borrowed = type("Borrowed", (), {name: CatalogEvent.__dict__[name] for name in fabric.EVENT_SLOTS[1]})
    with pytest.raises(TypeError, match="not a plain slot"):
        _catalog_native.scan_batch(raw, (borrowed, fabric.EVENT_SLOTS[1]))


def test_text_that_is_not_utf8_is_left_to_pymongo_which_refuses_it_as_before() -> None:
    import bson

    from shared import _catalog_native
    from shared.fabric import repair_raw_batch

    good = bson_of(("_id", ObjectId()), ("sdnaEventType", "face"), ("eventValue", "vé"), ("start", 1.0), ("end", 2.0))
    bad = good.replace("vé".encode(), b"v\xff")
    clean, others = _catalog_native.scan_batch(good + bad, CatalogEvent)
    assert len(clean) == 1 and others == [(len(good), len(bad))]
    with pytest.raises(bson.errors.InvalidBSON):
        repair_raw_batch(good + bad, bson.DEFAULT_CODEC_OPTIONS)


def test_a_symbol_source_or_path_is_left_to_pymongo_which_reads_it_as_text() -> None:
    """A BSON symbol (0x0E, which PyMongo cannot write) decodes to a str, so `_clean_event` keeps it as
    the source or path; the C scan hands the document back instead of making it None."""
    import bson

    from shared import _catalog_native, fabric

    clean = bson_of(("_id", ObjectId()), ("sdnaEventType", "face"), ("eventValue", "v"), ("start", 1.0), ("end", 2.0))
    for key in (b"source", b"fullPath"):
        raw = splice(clean, b"\x0e" + key + b"\x00\x07\x00\x00\x00/a.mov\x00")
        expected = fabric._clean_event(bson.decode(raw))
        assert expected is not None and "/a.mov" in (expected.source, expected.full_path)
        assert _catalog_native.scan_batch(raw, fabric.EVENT_SLOTS) == ([], [(0, len(raw))])
        batch = fabric.repair_raw_batch(raw, bson.DEFAULT_CODEC_OPTIONS)
        assert [(event, warnings) for _, event, warnings in batch.dirty] == [(expected, [])]


def test_a_batch_with_broken_framing_hands_back_its_tail(monkeypatch) -> None:
    """A length that overruns the batch ends the scan: the rest is one span, which PyMongo's decoder
    refuses (the read fails, as it did when PyMongo decoded every batch). Without the C, the count
    of documents is the same."""
    import bson

    from shared import _catalog_native, fabric
    from shared.fabric import count_documents, repair_raw_batch

    good = bson_of(("_id", ObjectId()), ("sdnaEventType", "face"), ("eventValue", "v"), ("start", 1.0), ("end", 2.0))
    for tail in (good[:-3], b"\x01\x00", b"\xff\xff\xff\x7f" + good[4:]):
        clean, others = _catalog_native.scan_batch(good + tail, CatalogEvent)
        assert len(clean) == 1 and others == [(len(good), len(tail))]
        assert count_documents(good + tail) == 2
        with pytest.raises(bson.errors.InvalidBSON):
            repair_raw_batch(good + tail, bson.DEFAULT_CODEC_OPTIONS)
    with pytest.raises(TypeError):
        _catalog_native.scan_batch("not bytes", CatalogEvent)
    monkeypatch.setattr(fabric, "_catalog_native", None)
    for tail in (good[:-3], b"\x01\x00", b"\xff\xff\xff\x7f" + good[4:]):
        assert count_documents(good * 3 + tail) == 4


def test_a_raw_batch_is_repaired_as_its_decoded_documents_are(monkeypatch) -> None:
    """`repair_raw_batch` with the C scan, and without it (no compiler: PyMongo decodes every
    document), gives what `repair_batch` gives for the decoded documents."""
    import bson

    from shared import fabric

    documents = awkward_documents()
    documents = documents[::7] + documents[-6:]  # the Python repair of each is slow: a sample
    batch = b"".join(documents)
    expected = fabric.repair_batch([bson.decode(raw) for raw in documents])
    assert fabric._catalog_native is not None
    assert fabric.repair_raw_batch(batch, bson.DEFAULT_CODEC_OPTIONS) == expected
    monkeypatch.setattr(fabric, "_catalog_native", None)
    assert fabric.repair_raw_batch(batch, bson.DEFAULT_CODEC_OPTIONS) == expected
    assert fabric.count_documents(batch) == len(documents)
