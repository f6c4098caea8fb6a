"""`POST /jobs/retry`: a dry run changes nothing; a real run requeues exactly the matching jobs, once."""

from __future__ import annotations

from datetime import timedelta

from shared.jobs import jobs, utc_now
from tests.support import wait_until_finished, work_order


async def failed_exports(client, repo_guid: str, count: int) -> list[str]:
    """Exports of an empty catalog: each fails with "no events"."""
    ids = []
    for _ in range(count):
        spark_id = (await client.post("/spark", json=work_order(["json"], repo_guid=repo_guid))).json()["spark_id"]
        assert (await wait_until_finished(client, f"/spark/{spark_id}/status"))["status"] == "failed"
        ids.append(spark_id)
    return ids


async def snapshot(database) -> dict[str, tuple]:
    found = jobs(database).find({}, projection={"status": 1, "attempts": 1, "retries": 1, "updated_at": 1})
    return {
        doc["_id"]: (doc["status"], doc["attempts"], len(doc.get("retries", [])), doc["updated_at"])
        for doc in await found.to_list()
    }


async def test_dry_run_counts_and_changes_nothing_then_a_real_run_retries_once(app, client) -> None:
    database = app.state.database
    mine = await failed_exports(client, "repo-a", 3)
    others = await failed_exports(client, "repo-b", 2)
    app.state.runner._stopping = True  # the retried jobs stay pending, so what changed stays visible
    cancelled = (await client.post("/spark", json=work_order(["json"], repo_guid="repo-a"))).json()["spark_id"]
    await client.post(f"/spark/{cancelled}/cancel")
    pending = (await client.post("/spark", json=work_order(["json"], repo_guid="repo-a"))).json()["spark_id"]
    before = await snapshot(database)

    dry = await client.post("/jobs/retry", json={"repo_guid": "repo-a"})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"dry_run": True, "matched": 4, "retried": 0, "ids": [*mine, cancelled]}
    assert await snapshot(database) == before

    real = await client.post("/jobs/retry", json={"repo_guid": "repo-a", "dry_run": False})
    after = await snapshot(database)
    again = await client.post("/jobs/retry", json={"repo_guid": "repo-a", "dry_run": False})

    assert real.json() == {"dry_run": False, "matched": 4, "retried": 4, "ids": [*mine, cancelled]}
    for job_id in [*mine, cancelled]:
        assert after[job_id][:3] == ("pending", 0, 1), after[job_id]
    for job_id in [*others, pending]:
        assert after[job_id] == before[job_id]
    assert again.json() == {"dry_run": False, "matched": 0, "retried": 0, "ids": []}
    assert await snapshot(database) == after


async def test_filters_by_status_error_time_and_kind_and_caps_at_limit(app, client) -> None:
    database = app.state.database
    ids = await failed_exports(client, "repo-c", 3)
    await jobs(database).update_one({"_id": ids[0]}, {"$set": {"error": "Fabric answered 503: Busy"}})
    old = utc_now() - timedelta(days=3)
    await jobs(database).update_one({"_id": ids[1]}, {"$set": {"created_at": old}})
    app.state.runner._stopping = True

    async def dry(**body) -> dict:
        response = await client.post("/jobs/retry", json={"repo_guid": "repo-c", **body})
        assert response.status_code == 200, response.text
        return response.json()

    assert (await dry(error_contains="fabric ANSWERED 503"))["ids"] == [ids[0]]
    assert (await dry(error_contains="no events (.*"))["matched"] == 0  # a literal, not a pattern
    before = (utc_now() - timedelta(days=1)).isoformat()
    assert (await dry(created_before=before))["ids"] == [ids[1]]
    assert (await dry(created_after=before))["ids"] == [ids[0], ids[2]]
    assert (await dry(kind="import"))["matched"] == 0
    assert (await dry(status=["cancelled"]))["matched"] == 0
    assert (await dry(q="FABRIC answered"))["ids"] == [ids[0]]  # text in the id, name or error, as GET /jobs
    assert (await dry(q=ids[2]))["ids"] == [ids[2]]
    assert (await dry(priority="high"))["matched"] == 0
    assert (await dry(priority="normal"))["matched"] == 3
    capped = await client.post("/jobs/retry", json={"repo_guid": "repo-c", "dry_run": False, "limit": 2})
    assert capped.json()["matched"] == 3 and capped.json()["retried"] == 2
    assert capped.json()["ids"] == [ids[1], ids[0]]  # oldest first
    assert (await dry())["ids"] == [ids[2]]


async def test_bad_filters_are_422_naming_the_field(client) -> None:
    cases = {
        "status": {"status": ["completed"]},
        "limit": {"limit": 0},
        "kind": {"kind": "thumbnail"},
        "dryrun": {"dryrun": False},
        "created_before": {"created_before": "2026-01-01T00:00:00"},
        "error_contains": {"error_contains": "nul \u0000 inside"},
        "q": {"q": "nul \u0000 inside"},
        "priority": {"priority": "urgent"},
    }
    for field, body in cases.items():
        response = await client.post("/jobs/retry", json=body)
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in str(response.json()["errors"]) or field in response.json()["detail"], response.json()
