"""`GET /spark?repo_guid=`: newest first, filtered, paginated with a cursor that stays stable."""

from __future__ import annotations

import asyncio

import pytest

from shared.jobs import submit_job


async def seed(app, repo: str, count: int) -> list[str]:
    """Jobs in submission order, each in its own millisecond: times are kept to the millisecond, and
    jobs created within one are listed by id, which is random."""
    ids = []
    for number in range(count):
        submitted = await submit_job(app.state.database, "export", repo, payload={"n": number, "inputs": {}})
        ids.append(submitted.job.id)
        await asyncio.sleep(0.002)
    return ids


@pytest.fixture
def settings(make_settings):
    # No processing: these tests are about the list, and a runner would change statuses under them.
    return make_settings(export_concurrency=1, lease_seconds=600)


async def test_pages_are_newest_first_and_stable_while_jobs_arrive(app, client) -> None:
    app.state.runner._stopping = True  # keep every job pending
    older = await seed(app, "repo-a", 7)
    await seed(app, "repo-b", 3)

    first = (await client.get("/spark", params={"repo_guid": "repo-a", "limit": 3})).json()
    newer = await seed(app, "repo-a", 4)
    second = (
        await client.get("/spark", params={"repo_guid": "repo-a", "limit": 3, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await client.get("/spark", params={"repo_guid": "repo-a", "limit": 3, "cursor": second["next_cursor"]})
    ).json()

    seen = [job["spark_id"] for page in (first, second, third) for job in page["jobs"]]
    assert seen == list(reversed(older))
    assert third["next_cursor"] is None
    assert first["total"] == 7 and third["total"] == 11
    fresh = (await client.get("/spark", params={"repo_guid": "repo-a", "limit": 4})).json()
    assert [job["spark_id"] for job in fresh["jobs"]] == list(reversed(newer))


async def test_status_filter_and_limits(app, client) -> None:
    app.state.runner._stopping = True
    ids = await seed(app, "repo-a", 3)
    await client.post(f"/spark/{ids[0]}/cancel")

    cancelled = (await client.get("/spark", params={"repo_guid": "repo-a", "status": "cancelled"})).json()
    assert [job["spark_id"] for job in cancelled["jobs"]] == [ids[0]]
    assert cancelled["total"] == 1
    for params in (
        {"repo_guid": "repo-a", "limit": 0},
        {"repo_guid": "repo-a", "limit": 1001},
        {"repo_guid": "repo-a", "status": "sleeping"},
        {},
        {"repo_guid": "repo-a", "cursor": "@@@"},
    ):
        response = await client.get("/spark", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
