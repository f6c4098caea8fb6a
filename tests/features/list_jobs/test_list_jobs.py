"""`GET /jobs`: both kinds by a filter, newest first, paged with the API's cursors; bad parameters are
422 problems; the same filter given to `POST /jobs/retry` means the same jobs."""

from __future__ import annotations

from datetime import timedelta

from shared.jobs import utc_now
from tests.job_documents import job_document, store_jobs


async def test_filters_and_pages_both_kinds(app, client) -> None:
    now = utc_now()
    ids = await store_jobs(
        app.state.database,
        [
            job_document("export", "repo-l", "failed", now - timedelta(minutes=4), error="Fabric answered 503"),
            job_document("import", "repo-l", "completed", now - timedelta(minutes=3), name="/l/highlights.mov"),
            job_document("export", "repo-l", "cancelled", now - timedelta(minutes=2), priority="high"),
            job_document("export", "repo-other", "failed", now - timedelta(minutes=1)),
        ],
    )

    async def listed(**params) -> dict:
        response = await client.get("/jobs", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    everything = await listed(repo_guid="repo-l")
    assert everything["total"] == 3 and [job["id"] for job in everything["jobs"]] == ids[2::-1]
    assert everything["next_cursor"] is None
    newest = everything["jobs"][0]
    assert newest["kind"] == "export" and newest["priority"] == "high" and newest["name"] == "/repo-l/clip.mov"
    assert set(newest) == {
        "id", "kind", "repo_guid", "status", "priority", "name", "progress_percent", "progress_step",
        "attempts", "created_at", "started_at", "completed_at", "error",
    }  # fmt: skip
    assert newest["created_at"].endswith("Z") or newest["created_at"].endswith("+00:00")

    assert [j["id"] for j in (await listed(status=["failed", "cancelled"]))["jobs"]] == [ids[3], ids[2], ids[0]]
    assert [j["id"] for j in (await listed(kind="import"))["jobs"]] == [ids[1]]
    assert [j["id"] for j in (await listed(q="fabric ANSWERED"))["jobs"]] == [ids[0]]
    assert [j["id"] for j in (await listed(q="HIGHLIGHTS", repo_guid="repo-l"))["jobs"]] == [ids[1]]
    assert (await listed(priority="high"))["total"] == 1
    after = (now - timedelta(minutes=3, seconds=30)).isoformat()
    assert [j["id"] for j in (await listed(created_after=after, repo_guid="repo-l"))["jobs"]] == [ids[2], ids[1]]

    first = await listed(limit=2)
    second = await listed(limit=2, cursor=first["next_cursor"])
    assert [j["id"] for j in first["jobs"] + second["jobs"]] == ids[::-1]
    assert first["total"] == second["total"] == 4 and second["next_cursor"] is None


async def test_the_list_and_the_bulk_retry_mean_the_same_jobs(app, client) -> None:
    app.state.runner._stopping = True  # retried jobs stay pending
    now = utc_now()
    await store_jobs(
        app.state.database,
        [
            job_document("export", "repo-r", "failed", now - timedelta(minutes=5), error="timeout", priority="high"),
            job_document("export", "repo-r", "failed", now - timedelta(minutes=4), error="timeout"),
            job_document("import", "repo-r", "cancelled", now - timedelta(minutes=3), error="Timeout", priority="high"),
            job_document("export", "repo-r", "completed", now - timedelta(minutes=2), priority="high"),
            job_document("export", "repo-x", "failed", now - timedelta(minutes=1), error="timeout", priority="high"),
        ],
    )
    list_filter = {"repo_guid": "repo-r", "priority": "high", "q": "TIMEOUT", "status": ["failed", "cancelled"]}

    listed = (await client.get("/jobs", params=list_filter)).json()
    dry = await client.post("/jobs/retry", json=list_filter)

    assert dry.status_code == 200, dry.text
    assert dry.json()["matched"] == listed["total"] == 2
    assert sorted(dry.json()["ids"]) == sorted(job["id"] for job in listed["jobs"])
    real = (await client.post("/jobs/retry", json={**list_filter, "dry_run": False})).json()
    assert real["retried"] == 2
    assert (await client.get("/jobs", params=list_filter)).json()["total"] == 0


async def test_bad_parameters_are_422_problems(client) -> None:
    cases = {
        "status": {"status": "finished"},
        "kind": {"kind": "thumbnail"},
        "priority": {"priority": "urgent"},
        "limit": {"limit": 0},
        "created_after": {"created_after": "2026-01-01T00:00:00"},
        "q": {"q": "nul \u0000 inside"},
        "cursor": {"cursor": "bm90LWEtY3Vyc29y"},
    }
    for field, params in cases.items():
        response = await client.get("/jobs", params=params)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert field in str(body.get("errors")) or field in body["detail"], body


async def test_pollers_share_a_look_and_a_plain_request_reads_its_own(app, client) -> None:
    now = utc_now()
    await store_jobs(app.state.database, [job_document("export", "repo-live", "failed", now - timedelta(minutes=2))])
    live = {"repo_guid": "repo-live", "live": "true"}

    first_poll = (await client.get("/jobs", params=live)).json()
    await store_jobs(app.state.database, [job_document("export", "repo-live", "failed", now - timedelta(minutes=1))])
    second_poll = (await client.get("/jobs", params=live)).json()
    plain = (await client.get("/jobs", params={"repo_guid": "repo-live"})).json()

    # The second poll came within the shared look's second: it is the first poll's answer.
    assert first_poll["total"] == second_poll["total"] == 1
    assert plain["total"] == 2
