"""The embedded server behaves like MongoDB where the job leases depend on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient, MongoClient, ReturnDocument

from tools.data_folder_lock import EXIT_FOLDER_IN_USE, LOCK_FILE_NAME, DataFolderInUse
from tools.embedded_mongo import BINARY, EmbeddedMongo, free_port


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


# Its lifetime (tools/ferretdb/lifetime.go); tests/tools/test_database_lifetime.py and
# tests/jobs/test_stack_crash.py check the same with whole stacks and pytest runs killed with -9.


def test_the_server_stops_when_its_launchers_pipe_closes(tmp_path: Path) -> None:
    server = EmbeddedMongo(tmp_path / "data").start()
    assert server.process is not None and server.process.stdin is not None
    with MongoClient(server.url) as client:  # a connected client must not keep it up
        client["db"]["documents"].insert_one({"kept": True})
        server.process.stdin.close()  # what the kernel does when the launcher dies
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            pytest.fail("the server did not stop when its launcher's pipe closed")
    assert "the launcher is gone" in server.log_path.read_text()


def pipe_holders(pipe: str) -> set[int]:
    """Every process with `pipe` (`pipe:[inode]`) among its open descriptors."""
    found = set()
    for pid in (int(name) for name in os.listdir("/proc") if name.isdigit()):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):  # gone since listed (the listing's own, say)
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == pipe:
                        found.add(pid)
    return found


def test_only_the_launcher_and_the_server_hold_the_pipe(tmp_path: Path) -> None:
    # A child started after the server (as `make run` starts the API) must not keep the pipe open.
    with EmbeddedMongo(tmp_path / "data") as server:
        assert server.process is not None
        later_child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            pipe = os.readlink(f"/proc/{server.process.pid}/fd/0")
            assert pipe.startswith("pipe:")
            assert pipe_holders(pipe) == {os.getpid(), server.process.pid}
        finally:
            later_child.kill()
            later_child.wait()


def test_a_second_server_on_a_folder_in_use_does_not_open_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with EmbeddedMongo(data) as first:
        assert first.process is not None
        holder = f"pid {first.process.pid} on 127.0.0.1:{first.port}"
        with pytest.raises(DataFolderInUse, match=holder):
            EmbeddedMongo(data).start()
        # The binary itself, without the launcher's early look: its own lock refuses the folder.
        second = subprocess.run(
            [str(BINARY), "-listen", f"127.0.0.1:{free_port()}", "-data", str(data)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == EXIT_FOLDER_IN_USE
        assert second.stderr.strip().splitlines() == [f"data folder {data} is in use by ferretdb-embedded {holder}"]
        with MongoClient(first.url) as client:
            assert client.admin.command("ping")["ok"] == 1


def test_a_lock_left_by_a_killed_server_does_not_block_the_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = EmbeddedMongo(data).start()
    with MongoClient(first.url) as client:
        client["db"]["documents"].insert_one({"_id": "kept"})
    assert first.process is not None
    first.process.kill()  # kill -9: no clean-up of its own
    first.process.wait()
    first.stop()
    assert json.loads((data / LOCK_FILE_NAME).read_text())["pid"] == first.process.pid  # stale, left behind

    with EmbeddedMongo(data) as second, MongoClient(second.url) as client:
        assert second.process is not None
        assert json.loads((data / LOCK_FILE_NAME).read_text()) == {
            "pid": second.process.pid,
            "listen": f"127.0.0.1:{second.port}",
        }
        assert client["db"]["documents"].find_one({"_id": "kept"}) == {"_id": "kept"}
