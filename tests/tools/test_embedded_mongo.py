"""The embedded server behaves like MongoDB where the job leases depend on it."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient, ReturnDocument


async def test_concurrent_conditional_updates_of_one_document_have_one_winner(settings) -> None:
    # FerretDB v1 alone fails this (a query, then a separate write); tools/ferretdb serialises writes.
    client = AsyncMongoClient(settings.mongodb_url, w="majority")
    collection = client[settings.mongodb_db_name]["race"]
    try:
        for trial in range(20):
            await collection.delete_many({})
            await collection.insert_one({"_id": trial, "status": "pending"})

            async def grab(worker: int, trial: int = trial):
                return await collection.find_one_and_update(
                    {"_id": trial, "status": "pending"},
                    {"$set": {"status": "processing", "worker": worker}},
                    return_document=ReturnDocument.AFTER,
                )

            async def fenced(worker: int, trial: int = trial):
                outcome = await collection.update_one(
                    {"_id": trial, "status": "processing", "worker": worker}, {"$set": {"status": "done"}}
                )
                return outcome.modified_count

            winners = [doc for doc in await asyncio.gather(*(grab(n) for n in range(10))) if doc]
            assert len(winners) == 1, f"trial {trial}: {len(winners)} winners"
            finished = await asyncio.gather(*(fenced(n) for n in range(10)))
            assert sum(finished) == 1
    finally:
        await client.close()


async def test_reads_are_not_held_up_behind_each_other(settings) -> None:
    client = AsyncMongoClient(settings.mongodb_url)
    collection = client[settings.mongodb_db_name]["reads"]
    try:
        await collection.insert_many([{"n": n} for n in range(200)])
        counts = await asyncio.gather(*(collection.count_documents({}) for _ in range(20)))
        assert counts == [200] * 20
    finally:
        await client.close()


# Values an equality filter meets in real documents: plain strings (what the SQLite pushdown of
# tools/ferretdb/sqlite_pushdown.go narrows by), strings it must leave alone, and the other types.
FIELD_VALUES = st.one_of(
    st.sampled_from(["pending", "export", "a b", "/demo/x.mov", "", "Pending", "pending ", "x,y"]),
    st.sampled_from(["pendingé", 'quo"te', "back\\slash", "<tag>&", "tab\there", "ünïcode"]),
    st.integers(-3, 3),
    st.none(),
    st.lists(st.sampled_from(["pending", "export", "other", "ünïcode"]), max_size=3),
    st.fixed_dictionaries({"status": st.sampled_from(["pending", "other"])}),
)
QUERY_VALUES = st.sampled_from(["pending", "export", "a b", "/demo/x.mov", "", "pendingé", 'quo"te', "ünïcode", "x,y"])


def mongo_equal(document: dict, field: str, wanted: str) -> bool:
    """MongoDB's `{field: wanted}` for a string `wanted`: the value, or an array holding it."""
    if field not in document:
        return False
    value = document[field]
    return value == wanted or (isinstance(value, list) and wanted in value)


@hypothesis_settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(
    values=[(["other", "pending"], "export"), ("pending", ["export"]), ("pendingé", "export")],
    wanted=("pending", "export"),
)
@given(
    values=st.lists(st.tuples(FIELD_VALUES, FIELD_VALUES), min_size=1, max_size=12),
    wanted=st.tuples(QUERY_VALUES, QUERY_VALUES),
)
async def test_string_equality_filters_match_what_mongodb_matches(settings, values, wanted) -> None:
    # FerretDB narrows these filters in SQLite first; whatever the fields hold, the answer must not change.
    client = AsyncMongoClient(settings.mongodb_url)
    collection = client[settings.mongodb_db_name]["equality"]
    try:
        await collection.delete_many({})
        documents = [
            {"_id": index, **({"status": status} if status is not None else {}), "kind": kind}
            for index, (status, kind) in enumerate(values)
        ]
        await collection.insert_many(documents)
        status, kind = wanted
        for query in ({"status": status}, {"status": status, "kind": kind}, {"kind": kind, "_id": {"$gte": 0}}):
            expected = sorted(
                document["_id"]
                for document in documents
                if all(mongo_equal(document, field, value) for field, value in query.items() if field != "_id")
            )
            found = sorted(document["_id"] for document in await collection.find(query, {"_id": 1}).to_list(None))
            assert found == expected, query
            assert await collection.count_documents(query) == len(expected)
    finally:
        await client.close()
