"""The embedded server behaves like MongoDB where the job leases depend on it."""

from __future__ import annotations

import asyncio

from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ReturnDocument


async def test_concurrent_conditional_updates_of_one_document_have_one_winner(settings) -> None:
    # FerretDB v1 alone fails this (a query, then a separate write); tools/ferretdb serialises writes.
    client = AsyncIOMotorClient(settings.mongodb_url, w="majority")
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
        client.close()


async def test_reads_are_not_held_up_behind_each_other(settings) -> None:
    client = AsyncIOMotorClient(settings.mongodb_url)
    collection = client[settings.mongodb_db_name]["reads"]
    try:
        await collection.insert_many([{"n": n} for n in range(200)])
        counts = await asyncio.gather(*(collection.count_documents({}) for _ in range(20)))
        assert counts == [200] * 20
    finally:
        client.close()
