"""Our SQLite pushdowns answer exactly as upstream FerretDB does: a differential test.

The pushdowns of `tools/ferretdb/` (string equalities today; sorts, limits and counts next) answer
from SQLite what FerretDB would otherwise work out in Go, and SQLite only agrees with MongoDB's rules
while the stored values are of the types the pushdown assumes. So both servers of `ferretdb_diff.py`
(one with `-no-pushdown`) get the same job documents, first clean, then with values that break those
assumptions one kind at a time, then with types changed by every kind of write, a drop, a rename and
a restart, and every read must answer the same to the byte: counts, sorted and paged finds,
projections, the app's own `search_jobs` pages and `count_jobs`. The random filters are seeded
(`FERRETDB_DIFF_SEED` picks another seed); a failure names the seed and the query.
"""

from __future__ import annotations

import os
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Int64, ObjectId, Regex, Timestamp, json_util
from pymongo import DeleteOne, InsertOne, ReturnDocument, UpdateOne

from shared.job_search import NEWEST_FIRST, SUMMARY_PROJECTION, JobFilter, job_filter_query
from shared.jobs import INDEXES, JOBS_COLLECTION, JobStatus
from tests.job_documents import job_document
from tests.tools.ferretdb_diff import (
    Diff,
    Op,
    Servers,
    count,
    count_documents,
    distinct,
    duplicate_key_filter,
    failed,
    find,
    find_one,
    jobs_counted,
    search_pages,
    walk_pages,
    write,
)

SEED = int(os.environ.get("FERRETDB_DIFF_SEED", "20250611"))
DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
KINDS = ("export", "import")
STATUSES = tuple(status.value for status in JobStatus)
PRIORITIES = ("low", "normal", "high")
HEX_REPO = "64b7f0c2a1e4d3b2c1a0f9e8"  # a repository guid that an ObjectId can spell
REPOS = ("repo-a", "repo-b", HEX_REPO, "demo/x y")
NAMES = ("/repo-a/clip.mov", "/demo/Interview Take 2.mov", "/x/a.b+c.mxf", "/x/CLIP final.mov")
ERRORS = (None, None, "timeout talking to Fabric", "disk full: /exports", "bad path a.b")
OLDEST_FIRST = [("created_at", 1), ("_id", 1)]
MISSING = object()  # a field left out of a document


# --- documents -----------------------------------------------------------------------------------


def seeded_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# What lists, counts and searches read, and the unique key the indexes need; a job's other fields
# (runs, retries, leases) only cost the reference server decoding time on every read.
JOB_FIELDS = (
    "_id",
    "kind",
    "repo_guid",
    "status",
    "priority",
    "created_at",
    "started_at",
    "completed_at",
    "attempts",
    "progress",
    "error",
    "idempotency_key",
    "payload",
)


def job(rng: random.Random, created_at: datetime) -> dict[str, Any]:
    """A job document as the app stores it (`tests/job_documents.py`), its id drawn from `rng`."""
    kind = rng.choice(KINDS)
    stored = job_document(
        kind=kind,
        repo_guid=rng.choice(REPOS),
        status=rng.choice(STATUSES),
        created_at=created_at,
        name=rng.choice(NAMES),
        error=rng.choice(ERRORS),
        priority=rng.choice(PRIORITIES),
    )
    job_id = seeded_id(rng)
    stored.update(_id=job_id, idempotency_key=f"{kind}:id:{job_id}", status=str(stored["status"]))
    return {name: stored[name] for name in JOB_FIELDS}


def clean_jobs(rng: random.Random, count: int = 45) -> list[dict[str, Any]]:
    """Jobs of today, three to a moment on average: ties that only `_id` orders."""
    moments = [DAY + timedelta(milliseconds=rng.randrange(86_400_000)) for _ in range(count // 3)]
    return [job(rng, rng.choice(moments)) for _ in range(count)]


CLEAN = clean_jobs(random.Random(SEED))
MOMENTS = sorted({document["created_at"] for document in CLEAN})
EARLIEST, TIE, LATEST = MOMENTS[0], MOMENTS[len(MOMENTS) // 2], MOMENTS[-1]
TIE_MS = int(TIE.timestamp() * 1000)
# The moments where a date's milliseconds gain a digit: JSON text of dates orders wrongly across them.
TEN_TO_THE_12_MS = datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)
TEN_TO_THE_13_MS = datetime(2286, 11, 20, 17, 46, 40, tzinfo=UTC)


def with_fields(document: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = {**document, **fields}
    return {key: value for key, value in changed.items() if value is not MISSING}


def odd_job(rng: random.Random, **fields: Any) -> dict[str, Any]:
    """A job of the tie moment (where a cut by a limit falls among equals) with some fields changed."""
    return with_fields(job(rng, TIE), **fields)


ODD_IDS = (
    "job with spaces",
    "bang!",
    'quo"te',
    "back\\slash",
    "<tag>&amp;",
    "ünïcode é",
    "日本語",
    "",
    "\t\n",
    "~tilde",
    "Z-upper",
    "0-digit",
)


def poisons() -> list[tuple[str, list[dict[str, Any]]]]:
    """Documents whose values break what SQLite's order and comparisons need to equal MongoDB's."""
    rng = random.Random(SEED + 1)

    def odd(**fields: Any) -> dict[str, Any]:
        return odd_job(rng, **fields)

    return [
        ("repo_guid an ObjectId spelling a guid in use", [odd(repo_guid=ObjectId(HEX_REPO))]),
        ("repo_guid an array holding a guid in use", [odd(repo_guid=["zzz", "repo-a"]), odd(repo_guid=[])]),
        ("repo_guid null", [odd(repo_guid=None)]),
        ("repo_guid missing", [odd(repo_guid=MISSING)]),
        ("repo_guid a number and a document", [odd(repo_guid=7), odd(repo_guid={"repo_guid": "repo-a"})]),
        ("repo_guid near a guid in use", [odd(repo_guid="repo-a "), odd(repo_guid="Repo-A"), odd(repo_guid="")]),
        ("created_at a long of a date's milliseconds", [odd(created_at=Int64(TIE_MS))]),
        ("created_at an int", [odd(created_at=777_600_000), odd(created_at=-5)]),
        ("created_at a double of a date's milliseconds", [odd(created_at=float(TIE_MS))]),
        (
            "created_at before 2001",
            [
                odd(created_at=datetime(1999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
                odd(created_at=datetime(1960, 6, 1, tzinfo=UTC)),
            ],
        ),
        ("created_at after 2286", [odd(created_at=datetime(2290, 1, 1, tzinfo=UTC))]),
        ("created_at null", [odd(created_at=None)]),
        ("created_at missing", [odd(created_at=MISSING)]),
        ("created_at a string", [odd(created_at=TIE.isoformat()), odd(created_at="")]),
        ("created_at a Timestamp", [odd(created_at=Timestamp(int(TIE.timestamp()), 1))]),
        ("created_at an array and a document", [odd(created_at=[EARLIEST, LATEST]), odd(created_at={"at": TIE})]),
        ("_id strings with odd characters", [odd(_id=job_id) for job_id in ODD_IDS]),
        (
            "ObjectId _ids among strings",
            [odd(_id=ObjectId(HEX_REPO)), odd(_id=ObjectId("0" * 24)), odd(_id=ObjectId("f" * 24)), odd(_id=5)],
        ),
        (
            "values with escapes",
            [
                odd(status='pend"ing', kind="exp\\ort", repo_guid="répo", priority="hi<gh>", error="tab\tnew\nline"),
                odd(repo_guid="a\u2028b", status="pending\u00e9", kind="import/"),
            ],
        ),
        ("a string holding NUL", [odd(status="pending\x00", repo_guid="repo-a\x00")]),
        (
            "status and kind as arrays, null and missing",
            [odd(status=["pending", "failed"]), odd(kind=None), odd(status=MISSING), odd(kind=["export"])],
        ),
    ]


POISONS = poisons()


# --- the battery: the reads compared after every change -------------------------------------------

TEXT_SEARCH = job_filter_query(JobFilter(text="clip"))["$or"]
STATUSES_OF_A_LIST = ["pending", "failed", "processing"]

# Conditions a count pushdown may answer from SQL, when the stored types allow.
EXACT_FILTERS: list[dict[str, Any]] = [
    {},
    {"kind": "export"},
    {"status": "pending"},
    {"status": {"$in": ["pending", "failed"]}},
    {"status": {"$in": []}},
    {"repo_guid": HEX_REPO},
    {"repo_guid": "repo-a"},
    {"repo_guid": {"$in": ["repo-a", HEX_REPO]}},
    {"repo_guid": "demo/x y", "created_at": {"$lt": LATEST}},
    {"kind": "import", "repo_guid": "repo-b", "status": {"$in": STATUSES_OF_A_LIST}},
    {"priority": "high", "kind": "export"},
    {"created_at": {"$gte": TIE}},
    {"created_at": {"$gt": TIE}},
    {"created_at": {"$lte": TIE}},
    {"created_at": {"$lt": TIE}},
    {"created_at": {"$gte": TIE, "$lte": TIE}},
    {"created_at": {"$gt": EARLIEST, "$lt": LATEST}},
    {"created_at": {"$lt": DAY}},
    {"created_at": {"$gt": DAY + timedelta(days=2)}},
    {"created_at": {"$gte": datetime(1990, 1, 1, tzinfo=UTC), "$lte": datetime(2300, 1, 1, tzinfo=UTC)}},
    {"created_at": {"$gt": datetime(1950, 1, 1, tzinfo=UTC)}},
    {"created_at": {"$lt": TEN_TO_THE_12_MS}},
    {"created_at": {"$gte": TEN_TO_THE_13_MS}},
    {"kind": "export", "status": "completed", "created_at": {"$gte": TIE}},
]

# Conditions no pushdown may answer from SQL alone: a wrong answer here is a pushdown too eager.
REFUSED_FILTERS: list[Any] = [
    {"status": "pendingé"},
    {"status": 'pend"ing'},
    {"kind": "exp\\ort"},
    {"repo_guid": "répo"},
    {"status": {"$in": ["pending", None]}},
    {"status": {"$in": ["pending", 3]}},
    {"status": {"$in": ["pending", Regex("^fail")]}},
    {"repo_guid": {"$in": [HEX_REPO, ObjectId(HEX_REPO)]}},
    {"repo_guid": ObjectId(HEX_REPO)},
    {"repo_guid": None},
    {"repo_guid": {"$exists": False}},
    {"repo_guid": ["zzz", "repo-a"]},
    {"repo_guid": []},
    {"repo_guid": {"$gt": "repo-a"}},
    {"repo_guid": {"$elemMatch": {"$eq": "repo-a"}}},
    {"repo_guid": {"$size": 2}},
    {"status": {"$ne": "pending"}},
    {"status": {"$nin": ["pending", "failed"]}},
    {"status": {"$eq": "pending"}},
    {"status": {"$regex": "^pend"}},
    {"status": {"$all": ["pending"]}},
    {"created_at": TIE},
    {"created_at": {"$in": [TIE, EARLIEST]}},
    {"created_at": {"$gt": Int64(int(EARLIEST.timestamp() * 1000))}},
    {"created_at": {"$gte": 0}},
    {"created_at": {"$gt": TIE.isoformat()}},
    {"created_at": {"$gte": Timestamp(0, 0)}},
    {"created_at": {"$gte": EARLIEST, "$ne": TIE}},
    {"created_at": {"$not": {"$lt": TIE}}},
    {"created_at": {"$type": "date"}},
    {"created_at": {"$gt": EARLIEST}, "$or": [{"status": "failed"}, {"kind": "import"}]},
    {"$or": TEXT_SEARCH},
    {"kind": "export", "$or": TEXT_SEARCH},
    {"payload.inputs.full_path": NAMES[0]},
    {"progress.step": "queued"},
    {"$and": [{"status": "pending"}, {"kind": "export"}]},
    {"_id": {"$in": [CLEAN[0]["_id"], CLEAN[1]["_id"], ODD_IDS[0], ObjectId(HEX_REPO)]}},
    {"_id": CLEAN[2]["_id"], "status": CLEAN[2]["status"]},
    {"_id": {"$gt": CLEAN[3]["_id"]}},
    {"Kind": "export"},
    {"job-kind": "export"},
    {"attempts": 0},
    {"error": None, "kind": "export", "created_at": {"$gte": EARLIEST}},
    {"status": "pending", "kind": "export", "priority": "normal", "repo_guid": "repo-a"},  # more than three keys
    duplicate_key_filter("status", "pending", "failed"),
    duplicate_key_filter("created_at", {"$gte": EARLIEST}, {"$lt": TIE}),
]

ALL_ERAS = {"$gte": datetime(1990, 1, 1, tzinfo=UTC), "$lte": datetime(2300, 1, 1, tzinfo=UTC)}

# (filter, sort, limit, skip, projection, batch size): every sort ending at `_id` is compared in order.
# These run after every change: each sort the pushdown may take, cut by limits, skips and getMores.
STEP_FINDS: list[tuple[Any, Any, int, int, Any, int]] = [
    ({}, NEWEST_FIRST, 5, 0, None, 0),
    ({}, NEWEST_FIRST, 0, 0, None, 5),
    ({}, NEWEST_FIRST, 4, 3, None, 0),
    ({}, OLDEST_FIRST, 5, 0, None, 0),
    ({}, [("created_at", 1), ("_id", -1)], 5, 0, None, 0),
    ({}, [("_id", 1)], 6, 0, None, 0),
    ({}, [("_id", -1)], 6, 0, None, 0),
    ({}, [("repo_guid", 1), ("created_at", -1), ("_id", -1)], 6, 0, None, 0),
    ({}, [("repo_guid", -1), ("created_at", -1), ("_id", -1)], 6, 0, None, 0),
    ({}, [("kind", 1), ("repo_guid", 1), ("created_at", -1), ("_id", -1)], 7, 0, None, 0),
    ({}, [("status", -1), ("_id", 1)], 5, 0, None, 0),
    ({"repo_guid": HEX_REPO}, NEWEST_FIRST, 4, 0, SUMMARY_PROJECTION, 0),
    ({"kind": "export", "repo_guid": "repo-a"}, NEWEST_FIRST, 3, 0, None, 0),
    ({"status": {"$in": STATUSES_OF_A_LIST}}, NEWEST_FIRST, 3, 2, None, 2),
    ({"created_at": {"$gte": TIE, "$lte": TIE}}, NEWEST_FIRST, 3, 0, None, 0),
    ({"created_at": {"$gte": TIE, "$lte": TIE}}, OLDEST_FIRST, 3, 0, None, 0),
    ({"created_at": ALL_ERAS}, NEWEST_FIRST, 3, 0, None, 0),
    ({"created_at": {"$lt": TEN_TO_THE_12_MS}}, OLDEST_FIRST, 3, 0, None, 0),
    ({"$or": TEXT_SEARCH}, NEWEST_FIRST, 3, 0, None, 0),
    ({}, [("created_at", -1)], 0, 0, None, 0),  # ties left open: compared as keys in order and a set
]
# These only with the full battery.
MORE_FINDS: list[tuple[Any, Any, int, int, Any, int]] = [
    ({}, NEWEST_FIRST, 1, 0, None, 0),
    ({}, NEWEST_FIRST, 0, 0, None, 0),
    ({}, [("created_at", -1), ("_id", 1)], 5, 0, None, 0),
    ({}, [("_id", 1)], 0, 0, {"_id": 1}, 3),
    ({"repo_guid": "repo-a"}, NEWEST_FIRST, 4, 0, None, 0),
    ({"kind": "export", "repo_guid": "repo-b"}, NEWEST_FIRST, 3, 0, None, 0),
    ({"kind": "import", "repo_guid": HEX_REPO}, OLDEST_FIRST, 3, 0, None, 0),
    ({"status": {"$in": STATUSES_OF_A_LIST}}, NEWEST_FIRST, 5, 0, None, 0),
    ({"created_at": {"$lt": TIE}}, NEWEST_FIRST, 4, 0, None, 0),
    ({"created_at": {"$gt": TIE}}, OLDEST_FIRST, 4, 0, None, 0),
    ({"kind": "export", "$or": TEXT_SEARCH}, NEWEST_FIRST, 2, 0, None, 0),
    ({"payload.inputs.full_path": NAMES[1]}, NEWEST_FIRST, 2, 0, None, 0),
    ({"error": {"$regex": "TIMEOUT", "$options": "i"}}, NEWEST_FIRST, 2, 0, None, 0),
    ({}, [("priority", 1), ("created_at", 1), ("_id", 1)], 5, 0, None, 0),
    ({"kind": "export"}, [("repo_guid", 1), ("created_at", -1), ("_id", -1)], 4, 0, None, 0),
    ({}, [("completed_at", -1), ("_id", -1)], 4, 0, None, 0),
    ({}, [("progress.percent", 1), ("_id", 1)], 3, 0, None, 0),
    ({}, NEWEST_FIRST, 5, 0, SUMMARY_PROJECTION, 0),
    ({"repo_guid": "repo-a"}, NEWEST_FIRST, 0, 0, SUMMARY_PROJECTION, 2),
    ({}, OLDEST_FIRST, 4, 0, {"_id": 0, "created_at": 1, "status": 1}, 0),
    ({}, NEWEST_FIRST, 3, 0, {"payload": 0, "progress": 0}, 0),
    ({"status": "pending"}, NEWEST_FIRST, 7, 0, {"_id": 1}, 2),
    ({}, NEWEST_FIRST, 7, 0, None, 2),
    ({"kind": "import"}, OLDEST_FIRST, 0, 0, None, 2),
    # Orders MongoDB leaves open among ties (or entirely): compared as keys in order and a set.
    ({}, [("created_at", 1)], 5, 0, None, 0),
    ({}, [("status", 1)], 0, 0, None, 0),
    ({}, None, 0, 0, None, 0),
    ({"status": "pending"}, None, 0, 0, None, 0),
    ({}, None, 5, 0, None, 0),
    ({"kind": "export"}, None, 3, 2, None, 0),
]

APP_FILTERS = [
    (JobFilter(), 12),
    (JobFilter(repo_guid="repo-a"), 4),
    (JobFilter(repo_guid=HEX_REPO, kind="import"), 3),
    (JobFilter(kind="export", statuses=("pending", "failed")), 5),
    (JobFilter(text="clip"), 6),
    (JobFilter(created_after=EARLIEST, created_before=LATEST, priority="normal"), 5),
    (JobFilter(created_after=TIE, statuses=("completed",)), 2),
]


def described(value: Any) -> str:
    return json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS)


def sorted_finds(finds: list[tuple[Any, Any, int, int, Any, int]]) -> list[tuple[str, Op]]:
    reads = []
    for query, sort, limit, skip, projection, batch_size in finds:
        label = f"find {described(query)} sort {sort} limit {limit} skip {skip} {projection} batch {batch_size}"
        reads.append((label, find(query, sort, limit, skip, projection, batch_size)))
    return reads


def counted_and_found(filters: list[Any]) -> list[tuple[str, Op]]:
    """Each filter counted, and its newest three found: a pushed count, and a pushed sort and limit."""
    reads: list[tuple[str, Op]] = []
    for query in filters:
        reads.append((f"count {described(query)}", count(query)))
        reads.append((f"find {described(query)} newest first, limit 3", find(query, NEWEST_FIRST, limit=3)))
    return reads


def app_reads(filters: list[tuple[JobFilter, int]]) -> list[tuple[str, Op]]:
    """The job list's own path: `search_jobs` pages followed through their cursors, and `count_jobs`."""
    reads: list[tuple[str, Op]] = []
    for job_filter, limit in filters:
        reads.append((f"search_jobs {job_filter} by {limit}", search_pages(job_filter, limit)))
        reads.append((f"count_jobs {job_filter}", jobs_counted(job_filter_query(job_filter))))
    return reads


OTHER_READS: list[tuple[str, Op]] = [
    ("count pending, limit 3", count({"status": "pending"}, limit=3)),
    ("count since the tie, skip 2", count({"created_at": {"$gte": TIE}}, skip=2)),
    ("count all, skip 5 limit 4", count({}, skip=5, limit=4)),
    ("count_documents repo-a", count_documents({"repo_guid": "repo-a"})),
    ("count_documents since the tie", count_documents({"created_at": {"$gte": TIE}})),
    ("distinct status of exports", distinct("status", {"kind": "export"})),
    ("distinct repo_guid", distinct("repo_guid", {})),
    ("find_one newest export", find_one({"kind": "export"}, NEWEST_FIRST)),
    ("find_one oldest of repo-a", find_one({"repo_guid": "repo-a"}, OLDEST_FIRST, SUMMARY_PROJECTION)),
    ("pages of repo-a by 3", walk_pages({"repo_guid": "repo-a"}, 3)),
    ("pages of lists, oldest first", walk_pages({"kind": "export", "status": {"$in": STATUSES_OF_A_LIST}}, 4, False)),
    ("pages since the tie by 5", walk_pages({"created_at": {"$gte": TIE}}, 5)),
]

# After each change: the reads a change of stored types can turn wrong (the exact conditions, every
# sort, paging); the refused conditions are refused whatever is stored, so the full battery has them.
STEP_READS = [
    *((f"count {described(query)}", count(query)) for query in EXACT_FILTERS),
    *sorted_finds(STEP_FINDS),
    ("pages of everything by 10", walk_pages({}, 10)),
    *app_reads(APP_FILTERS[:1]),
]
BATTERY = [
    *STEP_READS,
    *counted_and_found(REFUSED_FILTERS),
    *(
        (f"find {described(query)} newest first, limit 3", find(query, NEWEST_FIRST, limit=3))
        for query in EXACT_FILTERS
    ),
    *sorted_finds(MORE_FINDS),
    *OTHER_READS,
    *app_reads(APP_FILTERS[1:]),
]
# Before a poison arrives: what makes the pushdown look at the collection and build its record.
WARM_UP = [
    ("count repo-a", count({"repo_guid": "repo-a"})),
    ("count since the tie", count({"created_at": {"$gte": TIE}})),
    ("newest five", find({}, NEWEST_FIRST, limit=5)),
    ("newest five of a repository", find({"repo_guid": HEX_REPO}, NEWEST_FIRST, limit=5)),
]
MOVED_COUNTS = [
    ("everything", {}),
    ("repo-a", {"repo_guid": "repo-a"}),
    ("since the tie", {"created_at": {"$gte": TIE}}),
]


async def fill(diff: Diff, documents: list[dict[str, Any]]) -> None:
    answers = await diff.same("insert", write("insert_many", documents))
    assert not any(failed(answer) for answer in answers), answers


@pytest.fixture(scope="module")
async def servers(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Servers]:
    servers = Servers(tmp_path_factory.mktemp("pushdown"))
    await servers.start()
    yield servers
    await servers.stop()


@pytest.fixture
async def diff(servers: Servers) -> AsyncIterator[Diff]:
    """This test's indexed and unindexed databases, on both servers."""
    diff = Diff(servers)
    await diff.create_indexes(INDEXES)
    yield diff
    await diff.drop()


@pytest.fixture
async def indexed_diff(servers: Servers) -> AsyncIterator[Diff]:
    """The indexed database alone: for the many short tests, where the time goes to the servers."""
    diff = Diff(servers, kinds=("indexed",))
    await diff.create_indexes(INDEXES)
    yield diff
    await diff.drop()


# --- the tests -----------------------------------------------------------------------------------


async def test_clean_jobs_answer_as_upstream(diff: Diff) -> None:
    await fill(diff, CLEAN)
    await diff.all_same("clean", BATTERY)
    # Two servers failing alike would compare equal: on clean jobs every read of the battery answers.
    assert diff.reference_failures == []


@pytest.mark.parametrize(("kind", "documents"), POISONS, ids=[kind for kind, _ in POISONS])
async def test_a_poison_alone_answers_as_upstream(indexed_diff: Diff, kind: str, documents: list[dict]) -> None:
    # Each on a collection whose record said "clean" until then: the pushdown must notice this one.
    await fill(indexed_diff, CLEAN)
    await indexed_diff.all_same("clean", WARM_UP)
    await fill(indexed_diff, documents)
    await indexed_diff.all_same(f"with {kind}", STEP_READS)


async def test_every_poison_together_answers_as_upstream(diff: Diff) -> None:
    await fill(diff, CLEAN)
    await diff.all_same("clean", WARM_UP)
    for kind, documents in POISONS:
        await fill(diff, documents)
        await diff.all_same(f"after {kind}", WARM_UP)
    await diff.all_same("with every poison", BATTERY)


def type_changes() -> list[tuple[str, Op]]:
    """Writes of every kind that turn a clean field awkward, and back, after the record was built."""
    rng = random.Random(SEED + 2)
    ids = [document["_id"] for document in CLEAN]
    return [
        (
            "update_one: a created_at becomes a long",
            write("update_one", {"_id": ids[0]}, {"$set": {"created_at": Int64(TIE_MS)}}),
        ),
        ("update_one: and a date again", write("update_one", {"_id": ids[0]}, {"$set": {"created_at": TIE}})),
        (
            "update_many: repo-b becomes an ObjectId",
            write("update_many", {"repo_guid": "repo-b"}, {"$set": {"repo_guid": ObjectId(HEX_REPO)}}),
        ),
        (
            "update_many: and a string again",
            write("update_many", {"repo_guid": ObjectId(HEX_REPO)}, {"$set": {"repo_guid": "repo-b"}}),
        ),
        (
            "replace_one: created_at a string",
            write("replace_one", {"_id": ids[1]}, with_fields(CLEAN[1], created_at=TIE.isoformat())),
        ),
        (
            "find_one_and_update: the newest pending export's status an array",
            write(
                "find_one_and_update",
                {"status": "pending", "kind": "export"},
                {"$set": {"status": ["pending", "x"]}},
                sort=NEWEST_FIRST,
                return_document=ReturnDocument.AFTER,
            ),
        ),
        (
            "find_one_and_update: and a string again",
            write("find_one_and_update", {"status": ["pending", "x"]}, {"$set": {"status": "pending"}}),
        ),
        (
            "$unset: failed jobs lose their repo_guid",
            write("update_many", {"status": "failed"}, {"$unset": {"repo_guid": ""}}),
        ),
        (
            "update_many: and a repo_guid again",
            write("update_many", {"repo_guid": {"$exists": False}}, {"$set": {"repo_guid": "repo-c"}}),
        ),
        (
            "$rename: started_at becomes created_at",
            write(
                "update_many",
                {"status": {"$in": ["pending", "completed"]}, "kind": "import"},
                {"$rename": {"started_at": "created_at"}},
            ),
        ),
        (
            "$min: a number is below every date",
            write("update_one", {"_id": ids[3]}, {"$min": {"created_at": Int64(0)}}),
        ),
        (
            "upsert: a job whose created_at is a double",
            write(
                "update_one",
                {"_id": "upserted"},
                {
                    "$set": {"created_at": float(TIE_MS), "kind": "export", "status": "pending"},
                    "$setOnInsert": {"idempotency_key": "upserted"},
                },
                upsert=True,
            ),
        ),
        (
            "find_one_and_replace: repo_guid an array",
            write(
                "find_one_and_replace",
                {"_id": ids[4]},
                with_fields(CLEAN[4], repo_guid=["repo-a"]),
                return_document=ReturnDocument.AFTER,
            ),
        ),
        (
            "bulk_write: an insert, an update, a delete",
            write(
                "bulk_write",
                [
                    InsertOne(odd_job(rng, created_at=Timestamp(1, 1))),
                    UpdateOne({"_id": ids[5]}, {"$set": {"created_at": None}}),
                    DeleteOne({"_id": ids[6]}),
                ],
            ),
        ),
        (
            "insert_many unordered past a duplicate",
            write("insert_many", [odd_job(rng, repo_guid=None), CLEAN[7], odd_job(rng, created_at="x")], ordered=False),
        ),
        (
            "delete_many: every job whose created_at is no date",
            write("delete_many", {"created_at": {"$not": {"$type": "date"}}}),
        ),
        (
            "update_many: the tie moment a millisecond on",
            write("update_many", {"created_at": TIE}, {"$set": {"created_at": TIE + timedelta(milliseconds=1)}}),
        ),
        ("update_many: every repo_guid a string again", write("update_many", {}, {"$set": {"repo_guid": "repo-a"}})),
    ]


TYPE_CHANGES = type_changes()
FAILING_CHANGES = {"insert_many unordered past a duplicate"}  # the duplicate is refused, the others kept


async def test_type_changes_after_the_record_was_built(indexed_diff: Diff) -> None:
    await fill(indexed_diff, CLEAN)
    await indexed_diff.all_same("clean", STEP_READS)
    for label, change in TYPE_CHANGES:
        answers = await indexed_diff.same(label, change)
        assert all(failed(answer) == (label in FAILING_CHANGES) for answer in answers), (label, answers)
        await indexed_diff.all_same(f"after {label}", STEP_READS)


async def test_drop_recreate_and_rename(diff: Diff) -> None:
    odd_documents = [document for _, documents in POISONS for document in documents]
    await fill(diff, CLEAN)
    await diff.all_same("clean", STEP_READS)
    await diff.same("drop", write("drop"))
    await fill(diff, odd_documents + CLEAN[:20])  # re-created by the insert, without indexes
    await diff.all_same("re-created with odd jobs", STEP_READS)
    await diff.create_indexes(INDEXES)
    await diff.all_same("odd jobs, indexed again", STEP_READS)

    await diff.same("drop again", write("drop"))
    await diff.create_indexes(INDEXES)
    await fill(diff, CLEAN)
    await diff.all_same("re-created clean", STEP_READS)

    await diff.same("odd jobs into staging", write("insert_many", odd_documents, collection="staging"))
    await diff.same("jobs moved aside", write("rename", "moved"))
    await diff.same("staging renamed to jobs", write("rename", JOBS_COLLECTION, collection="staging"))
    await diff.all_same("odd jobs renamed into place", STEP_READS)
    moved = [(f"moved: {label}", count(query, collection="moved")) for label, query in MOVED_COUNTS]
    moved.append(("moved: newest five", find({}, NEWEST_FIRST, limit=5, collection="moved")))
    await diff.all_same("clean jobs renamed", moved)


async def test_a_restart_rebuilds_what_the_pushdown_knows(servers: Servers, diff: Diff) -> None:
    # One field awkward before the restart, and the record of the others clean: after it, the record
    # must say so again, and the writes that follow must still reach it.
    poisons = dict(POISONS)
    await fill(diff, CLEAN + poisons["repo_guid an ObjectId spelling a guid in use"])
    await diff.all_same("before the restart", STEP_READS)
    await servers.restart()
    await diff.all_same("after the restart", STEP_READS)
    for kind in ("created_at a long of a date's milliseconds", "_id strings with odd characters"):
        await fill(diff, poisons[kind])
        await diff.all_same(f"after the restart, then {kind}", STEP_READS)


# --- seeded random filters -----------------------------------------------------------------------

RANDOM_TEXTS = ("clip", "CLIP", "repo-a", "a.b", "timeout", "Take 2", "/x/", "é", CLEAN[0]["_id"][:8])
RANDOM_SORT_KEYS = (
    ("created_at", "_id"),
    ("_id",),
    ("repo_guid", "created_at", "_id"),
    ("kind", "repo_guid", "created_at", "_id"),
    ("status", "_id"),
    ("priority", "created_at", "_id"),
    ("created_at",),
)


def random_moment(rng: random.Random) -> datetime:
    """A bound inside the data (on a stored moment, or just beside one), before it, or after it."""
    choices = [
        lambda: rng.choice(MOMENTS),
        lambda: rng.choice(MOMENTS) + timedelta(milliseconds=rng.choice((-1, 1))),
        lambda: DAY + timedelta(milliseconds=rng.randrange(86_400_000)),
        lambda: DAY - timedelta(hours=rng.randint(1, 100_000)),
        lambda: DAY + timedelta(days=rng.randint(2, 200_000)),
        lambda: rng.choice((TEN_TO_THE_12_MS, TEN_TO_THE_13_MS, datetime(1960, 1, 1, tzinfo=UTC))),
    ]
    return rng.choice(choices)()


def random_strings(rng: random.Random, values: tuple[str, ...]) -> Any:
    if rng.random() < 0.5:
        return rng.choice(values)
    return {"$in": rng.sample(values, rng.randint(1, min(3, len(values))))}


def random_query(rng: random.Random) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if rng.random() < 0.4:
        query["kind"] = random_strings(rng, (*KINDS, "other"))
    if rng.random() < 0.4:
        query["status"] = random_strings(rng, (*STATUSES, "unknown"))
    if rng.random() < 0.35:
        query["repo_guid"] = random_strings(rng, (*REPOS, "repo-z"))
    if rng.random() < 0.2:
        query["priority"] = rng.choice(PRIORITIES)
    if rng.random() < 0.5:
        operators = rng.sample(["$gt", "$gte", "$lt", "$lte"], rng.randint(1, 2))
        query["created_at"] = {operator: random_moment(rng) for operator in operators}
    if rng.random() < 0.2:
        query["$or"] = job_filter_query(JobFilter(text=rng.choice(RANDOM_TEXTS)))["$or"]
    if rng.random() < 0.1:  # one condition no pushdown can take, beside the others
        query.update(rng.choice(({"payload.inputs.full_path": {"$exists": True}}, {"attempts": 0}, {"error": None})))
    return query


def random_sort(rng: random.Random) -> list[tuple[str, int]] | None:
    if rng.random() < 0.05:
        return None
    keys = rng.choice(RANDOM_SORT_KEYS)
    style = rng.choice(("descending", "ascending", "mixed"))
    directions = {"descending": lambda: -1, "ascending": lambda: 1, "mixed": lambda: rng.choice((-1, 1))}[style]
    return [(key, directions()) for key in keys]


def random_reads(rng: random.Random, how_many: int) -> list[tuple[str, Op]]:
    reads: list[tuple[str, Op]] = []
    for number in range(how_many):
        query, sort = random_query(rng), random_sort(rng)
        limit, skip = rng.choice((0, 1, 2, 3, 5, 10)), rng.choice((0, 0, 0, 1, 4))
        projection = rng.choice((None, None, SUMMARY_PROJECTION, {"_id": 1, "created_at": 1}))
        batch_size = rng.choice((0, 0, 2, 3))
        label = f"seed {SEED} filter {number}: {described(query)} sort {sort} limit {limit} skip {skip}"
        reads.append((f"{label} (count)", count(query)))
        reads.append(
            (f"{label} {projection} batch {batch_size}", find(query, sort, limit, skip, projection, batch_size))
        )
    return reads


def random_job_filters(rng: random.Random, how_many: int) -> list[tuple[str, Op]]:
    reads = []
    for number in range(how_many):
        job_filter = JobFilter(
            kind=rng.choice((None, None, *KINDS)),
            statuses=tuple(rng.sample(STATUSES, rng.choice((0, 0, 1, 2, 3)))),
            repo_guid=rng.choice((None, None, *REPOS)),
            priority=rng.choice((None, None, None, *PRIORITIES)),
            created_after=rng.choice((None, random_moment(rng))),
            created_before=rng.choice((None, None, random_moment(rng))),
            text=rng.choice((None, None, None, *RANDOM_TEXTS)),
        )
        limit = rng.randint(1, 6)
        reads.append((f"seed {SEED} job filter {number}: {job_filter} by {limit}", search_pages(job_filter, limit)))
        reads.append((f"seed {SEED} job filter {number}: count_jobs", jobs_counted(job_filter_query(job_filter))))
    return reads


async def test_seeded_random_filters_answer_as_upstream(diff: Diff) -> None:
    print(f"random filters of seed {SEED} (FERRETDB_DIFF_SEED)")
    rng = random.Random(SEED)
    await fill(diff, CLEAN)
    clean = await diff.all_same("clean", random_reads(rng, 160) + random_job_filters(rng, 20))
    counts = [answers[0] for answers in clean[0:320:2]]
    # Filters that all matched nothing (or everything) would prove little.
    assert sum(n == 0 for n in counts) > 16 and sum(0 < n < len(CLEAN) for n in counts) > 64, counts
    await fill(diff, [document for _, documents in POISONS for document in documents])
    await diff.all_same("with every poison", random_reads(rng, 80))


def text_search_jobs() -> list[dict[str, Any]]:
    """Jobs whose errors are hard for any shortcut a text search could take through the stored JSON
    text: ASCII case, the two ASCII letters that fold with non-ASCII ones (U+212A KELVIN SIGN, U+017F
    LONG S), escaped punctuation, characters JSON escapes, and a stored regex equal to the query's
    (which matches whatever its text). Sorted pages of a text search walk SQL's order, narrowed by
    the other conditions, and are filtered in Go (`sqlite_exact.go`)."""
    rng = random.Random(SEED + 7)
    values = [
        "/media/CLIP-7.mov",
        "/media/Clip 7 (final).mov",
        "/media/\u212aelvin \u017fcene.mov",  # matches "kelvin", "scene" case-insensitively in Go
        "/media/a<b>&c.mov",
        'quote " and back \\ slash',
        "caf\u00e9 cr\u00e8me",
        Regex(re.escape("clip-7"), "i"),
    ]
    documents = []
    for value in values:
        document = job(rng, DAY + timedelta(milliseconds=rng.randrange(86_400_000)))
        document["error"] = value
        documents.append(document)
    return documents


TEXTS = ["clip-7", "CLIP 7", "kelvin", "scene", "\u212aelvin", "a<b", "(final)", "caf\u00e9", 'quote "', "zzz-none"]


async def test_text_searches_answer_as_upstream(diff: Diff) -> None:
    await fill(diff, CLEAN)
    await fill(diff, text_search_jobs())
    reads: list[tuple[str, Op]] = []
    for text in TEXTS:
        query = job_filter_query(JobFilter(text=text))
        reads += [
            (f"count text {text!r}", count(query)),
            (f"find text {text!r}", find(query, NEWEST_FIRST, 5, 0, None, 0)),
            (f"repo + text {text!r}", find({"repo_guid": "repo-a", **query}, NEWEST_FIRST, 3, 0, None, 0)),
            (f"search pages {text!r}", search_pages(JobFilter(text=text), 2)),
        ]
    answers = await diff.all_same("text", reads)
    # The searches find something where they should: a comparison of empty answers proves little.
    assert sum(1 for answer in answers if answer not in (0, [], {"ids": []})) >= len(TEXTS)
