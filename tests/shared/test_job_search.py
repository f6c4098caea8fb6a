"""The job filter as a query, and paging through it on the real database: each filter narrows, text is a
literal matched in id, name and error, pages are newest first and stable while jobs arrive."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared import job_search
from shared.db import connect
from shared.job_search import JobFilter, job_filter_query, search_jobs, search_jobs_shared
from shared.jobs import INDEXES, utc_now
from shared.problems import Problem
from tests.job_documents import job_document, store_jobs


@pytest.fixture
async def database(settings):
    handle = connect(settings)
    await handle.ensure_indexes(INDEXES)
    yield handle
    await handle.close()


def test_an_empty_filter_matches_everything() -> None:
    assert job_filter_query(JobFilter()) == {}


def test_the_filter_as_a_query() -> None:
    query = job_filter_query(JobFilter(kind="export", statuses=("failed", "cancelled"), repo_guid="r", priority="high"))
    assert query == {"kind": "export", "repo_guid": "r", "status": {"$in": ["failed", "cancelled"]}, "priority": "high"}
    assert job_filter_query(JobFilter(statuses=("failed",)))["status"] == "failed"


def test_text_is_escaped_and_looked_for_in_id_name_and_error() -> None:
    query = job_filter_query(JobFilter(text="a.b (c)*"))
    patterns = {next(iter(part)): part[next(iter(part))] for part in query["$or"]}
    names = {"payload.inputs.full_path", "payload.import_job_name", "payload.asset.fullPath"}
    assert set(patterns) == {"_id", *names, "error"}
    assert all(p == {"$regex": r"a\.b\ \(c\)\*", "$options": "i"} for p in patterns.values())
    only_exports = job_filter_query(JobFilter(kind="export", text="x"))
    assert {next(iter(part)) for part in only_exports["$or"]} == {"_id", "payload.inputs.full_path", "error"}


async def test_each_filter_narrows_the_set(database) -> None:
    now = utc_now()
    docs = [
        job_document("export", "repo-a", "failed", now - timedelta(minutes=5), error="Fabric answered 503"),
        job_document("export", "repo-a", "completed", now - timedelta(minutes=4), name="/repo-a/Interview (1).mov"),
        job_document("import", "repo-a", "cancelled", now - timedelta(minutes=3), name="/repo-a/highlights.mov"),
        job_document("export", "repo-b", "failed", now - timedelta(minutes=2), priority="high"),
        job_document("import", "repo-b", "pending", now - timedelta(minutes=1), priority="low"),
    ]
    ids = await store_jobs(database, docs)

    async def found(**fields) -> list[str]:
        page = await search_jobs(database, JobFilter(**fields), 100, None)
        assert page.total == len(page.jobs)
        return [job["id"] for job in page.jobs]

    assert await found() == ids[::-1]
    assert await found(kind="import") == [ids[4], ids[2]]
    assert await found(repo_guid="repo-a") == [ids[2], ids[1], ids[0]]
    assert await found(statuses=("failed", "cancelled")) == [ids[3], ids[2], ids[0]]
    assert await found(priority="high") == [ids[3]]
    assert await found(created_after=now - timedelta(minutes=4), created_before=now - timedelta(minutes=1)) == [
        ids[3],
        ids[2],
    ]
    assert await found(text="FABRIC answered") == [ids[0]]
    assert await found(text="interview (1)") == [ids[1]]  # a literal: the brackets are not a group
    assert await found(text="(1") == [ids[1]]
    assert await found(text="HIGHLIGHTS") == [ids[2]]  # an import's name
    assert await found(text=ids[4][:13].upper()) == [ids[4]]
    assert await found(text=".*") == []
    assert await found(kind="export", repo_guid="repo-a", statuses=("failed",), text="503") == [ids[0]]


async def test_pages_are_newest_first_and_stable_while_jobs_arrive(database) -> None:
    start = utc_now() - timedelta(hours=1)
    same_moment = start + timedelta(minutes=30)
    docs = [job_document("export", "repo-p", "completed", start + timedelta(minutes=n)) for n in range(7)]
    docs += [job_document("import", "repo-p", "failed", same_moment) for _ in range(3)]  # ties on the time
    await store_jobs(database, docs)
    expected = [d["_id"] for d in sorted(docs, key=lambda d: (d["created_at"], d["_id"]), reverse=True)]

    seen, cursor, pages = [], None, 0
    while True:
        page = await search_jobs(database, JobFilter(repo_guid="repo-p"), 3, cursor)
        assert page.total == (10 if pages == 0 else 11)  # counts the newcomer, pages past it
        seen += [job["id"] for job in page.jobs]
        pages += 1
        if pages == 1:  # a newer job arrives after the first page: it shifts nothing
            await store_jobs(database, [job_document("export", "repo-p", "pending")])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected and pages == 4


async def test_a_page_has_summaries_only(database) -> None:
    [job_id] = await store_jobs(database, [job_document("import", "repo-s", "failed", error="boom", name="/s/x.mov")])
    [job] = (await search_jobs(database, JobFilter(repo_guid="repo-s"), 10, None)).jobs
    assert job == {
        "id": job_id,
        "kind": "import",
        "repo_guid": "repo-s",
        "status": "failed",
        "priority": "normal",
        "name": "/s/x.mov",
        "progress_percent": 0,
        "progress_step": "queued",
        "attempts": 0,
        "created_at": job["created_at"],
        "started_at": job["started_at"],
        "completed_at": job["completed_at"],
        "error": "boom",
    }


async def test_text_and_a_cursor_together(database) -> None:
    start = utc_now() - timedelta(hours=1)
    docs = [
        job_document("export", "repo-t", "failed", start + timedelta(minutes=n), error=f"oops{n % 2}") for n in range(6)
    ]
    await store_jobs(database, docs)
    first = await search_jobs(database, JobFilter(text="OOPS1"), 2, None)
    second = await search_jobs(database, JobFilter(text="OOPS1"), 2, first.next_cursor)
    assert [j["error"] for j in first.jobs + second.jobs] == ["oops1", "oops1", "oops1"]
    assert second.next_cursor is None and first.total == 3


async def test_a_foreign_cursor_is_a_422(database) -> None:
    with pytest.raises(Problem) as raised:
        await search_jobs(database, JobFilter(), 10, "not-a-cursor")
    assert raised.value.status == 422


async def test_polling_the_same_page_shares_one_look(database) -> None:
    await store_jobs(database, [job_document("export", "repo-poll", "failed") for _ in range(3)])
    looks = job_search._shared_pages.looks
    job_filter = JobFilter(repo_guid="repo-poll")

    pages = await asyncio.gather(*(search_jobs_shared(database, job_filter, 2, None) for _ in range(10)))

    assert job_search._shared_pages.looks == looks + 1
    assert all(page == pages[0] for page in pages) and pages[0].total == 3
    with pytest.raises(Problem):
        await search_jobs_shared(database, job_filter, 2, "not-a-cursor")
