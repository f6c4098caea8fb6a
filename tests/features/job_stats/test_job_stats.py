"""`GET /jobs/stats`: every number from the database, so two replicas answer the same and a restart
changes nothing; pollers share one look per replica."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from shared import job_stats as stats_module
from shared.job_stats import compute_job_stats, job_stats
from shared.jobs import utc_now
from tests.job_documents import job_document, store_jobs


@pytest.fixture
def settings(make_settings):
    # Replicas that run no job: the stored jobs stay as seeded (the runner would claim the pending ones).
    return make_settings(export_concurrency=0, import_concurrency=0)


async def seed(database) -> None:
    now = utc_now()
    long_ago = now - timedelta(hours=3)
    documents = [
        job_document("export", status="pending", created_at=now - timedelta(seconds=90)),
        job_document("export", status="pending", created_at=now - timedelta(seconds=30)),
        job_document("import", status="pending", created_at=now - timedelta(seconds=10)),
        job_document("export", status="processing", worker_id="host-a:1:aaa"),
        job_document("export", status="processing", worker_id="host-b:2:bbb"),
        job_document("import", status="processing", worker_id="host-a:1:aaa"),
        job_document("export", status="completed", completed_at=now - timedelta(minutes=10)),
        job_document("export", status="completed", completed_at=now - timedelta(minutes=50)),
        job_document("export", status="completed", created_at=long_ago, completed_at=long_ago),
        job_document("import", status="partially_completed", completed_at=now - timedelta(minutes=5)),
        job_document("import", status="completed", completed_at=now - timedelta(minutes=1)),
        job_document("export", status="failed", completed_at=now - timedelta(minutes=2)),
        job_document("import", status="failed", created_at=long_ago, completed_at=long_ago),
        job_document("import", status="cancelled", completed_at=now - timedelta(minutes=2)),
    ]
    await store_jobs(database, documents)


async def test_the_overview_counts_everything_from_the_database(app, client) -> None:
    await seed(app.state.database)

    response = await client.get("/jobs/stats")

    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["by_kind"] == {
        "export": {
            "pending": 2,
            "processing": 2,
            "completed": 3,
            "partially_completed": 0,
            "failed": 1,
            "cancelled": 0,
        },
        "import": {
            "pending": 1,
            "processing": 1,
            "completed": 1,
            "partially_completed": 1,
            "failed": 1,
            "cancelled": 1,
        },
    }
    assert stats["running_per_replica"] == [
        {"worker_id": "host-a:1:aaa", "export": 1, "import": 1},
        {"worker_id": "host-b:2:bbb", "export": 1, "import": 0},
    ]
    assert stats["queue"]["depth"] == {"export": 2, "import": 1}
    assert 90 <= stats["queue"]["oldest_pending_age_seconds"] < 90 + 120
    assert stats["last_hour"]["completed"] == {"export": 2, "import": 2}
    assert stats["last_hour"]["failed"] == {"export": 1, "import": 0}
    assert stats["last_hour"]["throughput_per_minute"] == round(4 / 60, 3)
    assert stats["generated_at"]


async def test_an_empty_database_has_no_oldest_pending_job(app, client) -> None:
    stats = (await client.get("/jobs/stats")).json()
    assert stats["queue"] == {"depth": {"export": 0, "import": 0}, "oldest_pending_age_seconds": None}
    assert stats["running_per_replica"] == [] and stats["last_hour"]["throughput_per_minute"] == 0


async def test_two_replicas_answer_the_same_and_a_restart_changes_nothing(app_factory, settings) -> None:
    first = await app_factory(settings)
    second = await app_factory(settings)
    await seed(first.state.database)

    before = [await compute_job_stats(app.state.database) for app in (first, second)]
    restarted = await app_factory(settings)
    after = await compute_job_stats(restarted.state.database)

    def numbers(stats: dict) -> dict:
        return {key: value for key, value in stats.items() if key not in ("generated_at", "queue")} | {
            "depth": stats["queue"]["depth"]
        }

    assert numbers(before[0]) == numbers(before[1]) == numbers(after)
    assert before[0]["by_kind"]["export"]["pending"] == 2


async def test_many_pollers_share_one_look(app) -> None:
    await seed(app.state.database)
    looks = stats_module._look.looks

    answers = await asyncio.gather(*(job_stats(app.state.database) for _ in range(25)))

    assert stats_module._look.looks == looks + 1
    assert all(answer == answers[0] for answer in answers)
    answers[0]["by_kind"]["export"]["pending"] = 999  # each caller gets its own copy
    assert answers[1]["by_kind"]["export"]["pending"] == 2
