"""Fabric's two contracts (SPEC §2): the catalog we read and the insight API we push to.

Catalog reads cannot be made without a `repo_guid`: a query without the repository filter would leak
other repositories' events. Events come back in (start, id) order; each bad document is repaired or
skipped with a `CatalogWarning`, never crashing the reader.

The insight push sends one batch per call with `apiKey` and `Idempotency-Key` headers, each call
waiting its turn at the cluster-wide gate (`shared.fabric_rate`: `FABRIC_MAX_REQUESTS_PER_SECOND`,
and a pause for every replica after a 429 with `Retry-After`), and turns every failure into
`FabricTransientError` (worth retrying: 408, 429, 5xx, timeouts, connection errors) or
`FabricPermanentError` (any other 4xx). Retrying is the caller's policy.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import posixpath
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import pairwise
from typing import Annotated, Any

import bson
import httpx
from bson import CodecOptions, Decimal128, ObjectId
from fastapi import Depends, Request
from pymongo.asynchronous.collection import AsyncCollection

from shared.db import scoped_filter
from shared.fabric_rate import FabricGate
from shared.metrics import Metrics, push_outcome
from shared.settings import Settings

try:
    from shared import _catalog_native
except ImportError:  # built without a C compiler (setup.py): the same, decoded by PyMongo
    _catalog_native = None
try:
    from shared import _event_order_native
except ImportError:  # the same, ordered in Python
    _event_order_native = None

INSIGHTS_PATH = "/catalogs/aiEnrichedMetadata/insights/llm/add"
CATALOG_BATCH_SIZE = 1000
ERROR_BODY_LIMIT = 500
log = logging.getLogger("ai_spark.fabric")


# --- catalog -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogEvent:
    """A catalog document that is safe to use: finite times, 0 <= start <= end, text value."""

    id: str
    event_type: str
    value: str
    start: float
    end: float
    confidence: float | None = None
    source: str | None = None
    positions: list[Any] | None = None
    full_path: str | None = None


# How the C scan makes an event: a new `CatalogEvent` with its slots filled in field order, what the
# frozen dataclass's generated __init__ does with nothing else to run (no __post_init__, no defaults
# computed), at a tenth of its cost. `test_the_c_scan_makes_exactly_what_the_python_clean_path_makes`.
EVENT_SLOTS = (CatalogEvent, tuple(event_field.name for event_field in fields(CatalogEvent)))
assert not hasattr(CatalogEvent, "__post_init__"), "the C scan would skip it (EVENT_SLOTS)"


@dataclass(frozen=True, slots=True)
class CatalogWarning:
    event_id: str
    code: str
    message: str


@dataclass
class CatalogRead:
    """What a scoped read produced: the events (start order) and what had to be repaired or skipped."""

    events: list[CatalogEvent] = field(default_factory=list)
    warnings: list[CatalogWarning] = field(default_factory=list)


def catalog_query(repo_guid: str, full_path: str | None = None, event_ids: Sequence[str] | None = None) -> dict:
    """The filter of one asset's events; ids match both ObjectIds and legacy string ids."""
    id_filter = None
    if event_ids is not None:
        candidates: list[Any] = []
        for event_id in event_ids:
            candidates.append(event_id)
            if ObjectId.is_valid(event_id):
                candidates.append(ObjectId(event_id))
        id_filter = {"$in": candidates}
    return scoped_filter(repo_guid, fullPath=full_path, _id=id_filter)


async def read_catalog(
    collection: AsyncCollection,
    repo_guid: str,
    full_path: str | None = None,
    event_ids: Sequence[str] | None = None,
    on_read: Callable[[int], Awaitable[None]] | None = None,
) -> CatalogRead:
    """Every event of the scope, repaired, in (start, id) order; `on_read(documents so far)` after each
    batch.

    The database is not asked to sort (issue 14): on the embedded server the sort cost more time and
    memory than the read, and the repair (negative starts clamped) needs a sort of our own anyway.
    The documents are put in the order a `sort({start: 1, _id: 1})` gives (`bson_order`), so which of
    two duplicates is kept, and the order of the warnings, are as they were; then events are ordered
    by their repaired start and id, the order every file is written in (`SegmentTable` relies on it).
    """
    # Raw batches (issue 14): PyMongo leaves each batch's documents as BSON, and they are decoded in
    # the repairing thread, off the event loop, the clean ones straight to events by
    # `shared._catalog_native` without a dict of every field (the same cursor otherwise: retried
    # reads, read preference and the cursor's server are PyMongo's as with `find`).
    query = catalog_query(repo_guid, full_path, event_ids)
    cursor = collection.find_raw_batches(query).batch_size(CATALOG_BATCH_SIZE)
    codec_options = collection.codec_options
    # Each batch is repaired in a thread while the cursor waits for the database's next one; the
    # whole is ordered at the end. One repairing thread: more would only take turns at the GIL with
    # each other and the loop.
    loop = asyncio.get_running_loop()
    repairs: list[asyncio.Future[_Batch]] = []
    documents = 0
    repairer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-repair")
    try:
        async for raw in cursor:
            repairs.append(loop.run_in_executor(repairer, repair_raw_batch, raw, codec_options))
            documents += count_documents(raw)
            if on_read is not None:
                await on_read(documents)
        batches = list(await asyncio.gather(*repairs))
    finally:
        # Never wait here (on the event loop): after an error, what is still queued is dropped.
        repairer.shutdown(wait=False, cancel_futures=True)
        await cursor.close()
    # Ordering and de-duplicating 100,000 events is CPU: not on the event loop either.
    return await asyncio.to_thread(assemble, batches)


_Dirty = tuple[tuple[Any, ...], CatalogEvent | None, list[CatalogWarning]]


@dataclass(slots=True)
class _Batch:
    """One batch repaired: the clean events (ObjectId `_id`, float start >= 0: the database's order
    is `(start, id)` for them, as ids are hex), in start order; the rest with their `bson_order` key."""

    clean: list[CatalogEvent]
    dirty: list[_Dirty]


def _start(event: CatalogEvent) -> float:
    return event.start


def _id(event: CatalogEvent) -> str:
    return event.id


def repair_raw_batch(raw: bytes, codec_options: CodecOptions) -> _Batch:
    """`repair_batch` of one raw batch (blocking): the clean documents made events in C where the
    extension is built, every other one decoded by PyMongo and repaired in Python."""
    if _catalog_native is None:
        return repair_batch(bson.decode_all(raw, codec_options))
    clean, others = _catalog_native.scan_batch(raw, EVENT_SLOTS)
    view = memoryview(raw)
    dirty = [
        _dirty(document)
        for offset, size in others
        for document in bson.decode_all(view[offset : offset + size], codec_options)
    ]
    clean.sort(key=_start)
    return _Batch(clean, dirty)


def count_documents(raw: bytes) -> int:
    """How many documents a raw batch holds (each BSON document starts with its length)."""
    if _catalog_native is not None:
        return _catalog_native.count_documents(raw)
    count = offset = 0
    while offset < len(raw):
        count += 1
        length = int.from_bytes(raw[offset : offset + 4], "little", signed=True)
        if length < 5 or length > len(raw) - offset:  # broken framing: the rest is one (PyMongo refuses it)
            break
        offset += length
    return count


def repair_batch(documents: list[dict[str, Any]]) -> _Batch:
    """Each document of a batch repaired (blocking). Clean events are sorted here by start, a
    thousand at a time, so the final sort only merges runs."""
    clean: list[CatalogEvent] = []
    dirty: list[_Dirty] = []
    keep = clean.append
    for document in documents:
        event = _clean_event(document)
        if event is not None:
            keep(event)
        else:
            dirty.append(_dirty(document))
    clean.sort(key=_start)
    return _Batch(clean, dirty)


def _dirty(document: dict[str, Any]) -> _Dirty:
    """A document that needs the repair, with its place in the database's `(start, _id)` order."""
    key = bson_order(document.get("start")) + bson_order(document.get("_id"))
    return (key, *_repair(document))


def _dirty_key(item: _Dirty) -> tuple[Any, ...]:
    return item[0]


def _clean_key(event: CatalogEvent) -> tuple[Any, ...]:
    """A clean event's `bson_order` key (only needed where dirty documents are merged in)."""
    return (_NUMBER, 1, event.start, _OBJECT_ID, 0, bytes.fromhex(event.id))


_DUPLICATE = "same type, value, start and end as an earlier event; skipped"


def assemble(batches: list[_Batch]) -> CatalogRead:
    """Repaired batches put in the database's `(start, _id)` order, de-duplicated, then ordered by
    repaired start and id (blocking: run it in a thread).

    The clean events (nearly all) are ordered by start and id (`order_by_start`), and only events
    of equal start can be duplicates of each other. Dirty documents, if any, are merged in by their
    `bson_order` keys and the whole walked as the database's order would give it."""
    events, ties = order_by_start([batch.clean for batch in batches])
    dirty = sorted((item for batch in batches for item in batch.dirty), key=_dirty_key)
    if dirty:
        return _walk(events, dirty)
    result = CatalogRead(events=events)
    duplicates: list[int] = []
    for low, high in ties:
        seen: set[tuple[str, str, float]] = set()
        for index in range(low, high):
            event = events[index]
            fingerprint = (event.event_type, event.value, event.end)
            if fingerprint in seen:
                duplicates.append(index)
                result.warnings.append(CatalogWarning(event.id, "duplicate", _DUPLICATE))
            else:
                seen.add(fingerprint)
    for index in reversed(duplicates):
        del events[index]
    return result


def order_by_start(runs: list[list[CatalogEvent]]) -> tuple[list[CatalogEvent], list[tuple[int, int]]]:
    """Every event of the runs in one list ordered by (start, id), equal keys in input order; and the
    [low, high) ranges of it that share a start. In C where built (`shared._event_order_native`:
    45-65 ms for 127,000 events where this takes 100-115 ms, all of it between the last catalog
    batch and the first file)."""
    if _event_order_native is not None:
        return _event_order_native.order_by_start(runs)
    events = [event for run in runs for event in run]
    events.sort(key=_start)
    ties = _tie_runs(events)
    for low, high in ties:
        events[low:high] = sorted(events[low:high], key=_id)
    return events, ties


def _tie_runs(events: list[CatalogEvent]) -> list[tuple[int, int]]:
    """The [low, high) ranges of events (in start order) that share a start."""
    starts = [event.start for event in events]
    runs: list[tuple[int, int]] = []
    for index in [index for index, (start, following) in enumerate(pairwise(starts)) if start == following]:
        if runs and runs[-1][1] == index + 1:
            runs[-1] = (runs[-1][0], index + 2)
        else:
            runs.append((index, index + 2))
    return runs


def _walk(clean: list[CatalogEvent], dirty: list[_Dirty]) -> CatalogRead:
    """Clean events (in `(start, id)` order) and dirty documents (sorted by key) walked together in
    the database's order: the first of two duplicates kept, warnings in that order."""
    result = CatalogRead()
    seen: set[tuple[Any, ...]] = set()

    def take(event: CatalogEvent) -> None:
        fingerprint = (event.event_type, event.value, event.start, event.end)
        if fingerprint in seen:
            result.warnings.append(CatalogWarning(event.id, "duplicate", _DUPLICATE))
        else:
            seen.add(fingerprint)
            result.events.append(event)

    position = 0
    for key, event, warnings in dirty:
        until = bisect.bisect_right(clean, key, lo=position, key=_clean_key)
        for index in range(position, until):
            take(clean[index])
        position = until
        result.warnings.extend(warnings)
        if event is not None:
            take(event)
    for index in range(position, len(clean)):
        take(clean[index])
    # Repaired starts (negative → 0) can move an event ahead of the database's order; and events
    # come in (start, id) order, the writing order, from either path.
    result.events = order_by_start([result.events])[0]
    return result


_NUMBER, _TEXT, _OTHER, _OBJECT_ID, _BOOLEAN, _DATE = 2, 3, 4, 7, 8, 9


def bson_order(value: Any) -> tuple[Any, ...]:
    """A sort key that orders values as MongoDB's sort does across types: null (and missing) <
    numbers (NaN first) < strings < objects and arrays < ObjectIds < booleans < dates."""
    if value is None:
        return (1, 0, 0)
    if isinstance(value, bool):
        return (_BOOLEAN, 0, value)
    if isinstance(value, int | float):
        return (_NUMBER, 0, 0) if value != value else (_NUMBER, 1, value)
    if isinstance(value, Decimal128):  # a number to MongoDB too
        number = value.to_decimal()
        return (_NUMBER, 0, 0) if number.is_nan() else (_NUMBER, 1, number)
    if isinstance(value, str):
        return (_TEXT, 0, value)
    if isinstance(value, ObjectId):
        return (_OBJECT_ID, 0, value.binary)
    if isinstance(value, datetime):
        return (_DATE, 0, value.timestamp())
    return (_OTHER, 0, str(value))


def repair_document(document: dict[str, Any]) -> tuple[CatalogEvent | None, list[CatalogWarning]]:
    """One catalog document as a usable event, or None; with a warning for every change made."""
    event = _clean_event(document)
    if event is not None:
        return event, []
    return _repair(document)


def _clean_event(document: dict[str, Any]) -> CatalogEvent | None:
    """The event of a document that needs no repair (nearly all of them), without the checks of
    `_repair` field by field (issue 14: per-field overhead on 127,000 documents); None otherwise.
    Exactly what `_repair` would make of it, with no warning."""
    get = document.get
    raw_id, event_type, value = get("_id"), get("sdnaEventType"), get("eventValue")
    start, end, confidence = get("start"), get("end"), get("confidenceScore")
    if not (
        type(raw_id) is ObjectId
        and type(event_type) is str
        and type(value) is str
        and type(start) is float
        and type(end) is float
        and 0.0 <= start <= end < math.inf
        and (confidence is None or (type(confidence) is float and math.isfinite(confidence)))
        and event_type.strip()
        and value.strip()
        and get("positions") is None
    ):
        return None
    source, full_path = get("source"), get("fullPath")
    # Positional, in the class's field order (id, event_type, value, start, end, confidence, source,
    # positions, full_path): keywords made the frozen dataclass's __init__ ~50 % dearer, 0.1 s of
    # CPU over 127,000 events. `test_the_fast_path_makes_exactly_what_the_repair_makes` guards it.
    return CatalogEvent(
        str(raw_id),
        event_type,
        value,
        start,
        end,
        confidence,
        source if type(source) is str else None,
        None,
        full_path if type(full_path) is str else None,
    )


def _repair(document: dict[str, Any]) -> tuple[CatalogEvent | None, list[CatalogWarning]]:
    raw_id = document.get("_id")
    event_id = str(raw_id)
    warnings: list[CatalogWarning] = []
    if not isinstance(raw_id, ObjectId):
        warnings.append(CatalogWarning(event_id, "id_not_objectid", "id is not an ObjectId; kept as text"))
    event_type = document.get("sdnaEventType")
    if not isinstance(event_type, str) or not event_type.strip():
        warnings.append(CatalogWarning(event_id, "missing_type", "no sdnaEventType; skipped"))
        return None, warnings
    start = _finite(document.get("start"))
    if start is None:
        problem = f"start {document.get('start')!r} is not a number; skipped"
        warnings.append(CatalogWarning(event_id, "bad_start", problem))
        return None, warnings
    end = _finite(document.get("end"))
    if end is None:
        warnings.append(CatalogWarning(event_id, "bad_end", "end is missing or not a number; used start"))
        end = start
    if end < 0:
        warnings.append(CatalogWarning(event_id, "negative_time", f"ends before 0 ({end}); skipped"))
        return None, warnings
    if start < 0:
        warnings.append(CatalogWarning(event_id, "negative_time", f"start {start} is negative; clamped to 0"))
        start = 0.0
    if end < start:
        warnings.append(CatalogWarning(event_id, "end_before_start", f"end {end} < start {start}; used start"))
        end = start
    value = document.get("eventValue")
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    if not value.strip():
        warnings.append(CatalogWarning(event_id, "empty_value", "empty eventValue; kept, caption formats skip it"))
    confidence = _finite(document.get("confidenceScore"))
    positions = document.get("positions")
    source = document.get("source")
    event = CatalogEvent(
        id=event_id,
        event_type=event_type,
        value=value,
        start=start,
        end=end,
        confidence=confidence,
        source=source if isinstance(source, str) else None,
        positions=_clean_positions(positions) if isinstance(positions, list) else None,
        full_path=document.get("fullPath") if isinstance(document.get("fullPath"), str) else None,
    )
    return event, warnings


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clean_positions(positions: list[Any]) -> list[Any]:
    """Positions as JSON can carry them: non-finite numbers become null, ObjectIds text."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(key): clean(item) for key, item in value.items()}
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        return str(value)

    return [clean(item) for item in positions]


# --- insight push --------------------------------------------------------------------------------


class FabricError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class FabricTransientError(FabricError):
    """Worth retrying: 408, 429, 5xx, timeouts and connection errors."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class FabricPermanentError(FabricError):
    """Retrying cannot help: any other 4xx, or the API not configured."""


@dataclass(frozen=True, slots=True)
class PushAccepted:
    status: int
    duration_ms: float


def insight_body(
    repo_guid: str, full_path: str, insight_events: Sequence[dict[str, Any]], tag: str | None = None
) -> dict[str, Any]:
    """The body of SPEC §2.2 for one batch."""
    body: dict[str, Any] = {
        "repoGuid": repo_guid,
        "fullPath": full_path,
        "fileName": posixpath.basename(full_path.rstrip("/")) or full_path,
        "insightEvents": list(insight_events),
    }
    if tag is not None:
        body["tag"] = tag
    return body


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """`items` cut into consecutive batches of at most `size`."""
    return [items[index : index + size] for index in range(0, len(items), size)]


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def classify_response(response: httpx.Response) -> PushAccepted | FabricError:
    status = response.status_code
    if 200 <= status < 300:
        return PushAccepted(status, duration_ms=0.0)
    body = response.text[:ERROR_BODY_LIMIT]
    if status in (408, 429) or status >= 500:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return FabricTransientError(f"Fabric answered {status}: {body}", status, retry_after)
    return FabricPermanentError(f"Fabric answered {status}: {body}", status)


class FabricApi:
    """The insight API; one pooled httpx client per process."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
        gate: FabricGate | None = None,
    ) -> None:
        self.base_url = settings.fabric_api_url
        self._metrics = metrics
        self._gate = gate
        self._api_key = settings.fabric_api_key.get_secret_value() if settings.fabric_api_key else None
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.fabric_api_timeout),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "ai-spark"},
        )

    @property
    def configured(self) -> bool:
        return self.base_url is not None

    async def push_insights(self, body: dict[str, Any], idempotency_key: str) -> PushAccepted:
        """Send one batch; raise `FabricTransientError` or `FabricPermanentError` when it is not accepted."""
        if self.base_url is None:
            raise FabricPermanentError("FABRIC_API_URL is not set, so insights cannot be pushed")
        headers = {"Idempotency-Key": idempotency_key, "Content-Type": "application/json"}
        if self._api_key is not None:
            headers["apiKey"] = self._api_key
        if self._gate is not None:
            await self._gate.wait_turn()
        started = time.perf_counter()
        try:
            response = await self._client.post(self.base_url + INSIGHTS_PATH, json=body, headers=headers)
        except httpx.TimeoutException as error:
            self._count(None, "timeout")
            raise FabricTransientError(f"Fabric did not answer in time ({type(error).__name__})") from None
        except httpx.TransportError as error:
            self._count(None, "connection_error")
            raise FabricTransientError(f"cannot reach Fabric at {self.base_url}: {_describe(error)}") from None
        self._count(response.status_code)
        outcome = classify_response(response)
        if self._gate is not None and isinstance(outcome, FabricTransientError) and outcome.retry_after is not None:
            await self._gate.pause(outcome.retry_after)  # every replica waits, not just this one
        if isinstance(outcome, FabricError):
            raise outcome
        return PushAccepted(outcome.status, (time.perf_counter() - started) * 1000)

    def _count(self, status: int | None, error: str | None = None) -> None:
        if self._metrics is not None:
            self._metrics.fabric_push(push_outcome(status, error))

    async def ping(self, timeout_seconds: float) -> str:
        """`unconfigured`, `ok`, or what went wrong; a GET of the base URL, never a push."""
        if self.base_url is None:
            return "unconfigured"
        try:
            response = await self._client.get(self.base_url + "/", timeout=timeout_seconds)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.TransportError as error:
            return f"unreachable: {_describe(error)}"
        return "ok" if response.status_code < 500 else f"answered {response.status_code}"

    async def aclose(self) -> None:
        await self._client.aclose()


def _describe(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return text[:200]


async def get_fabric_api(request: Request) -> FabricApi:
    return request.app.state.fabric_api


FabricApiDep = Annotated[FabricApi, Depends(get_fabric_api)]
