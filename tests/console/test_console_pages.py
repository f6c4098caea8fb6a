"""The console's pages over HTTP (no browser): what each answers, that job fields are escaped, and the
login, CSRF and read-only rules as a browser would meet them."""

from __future__ import annotations

import asyncio
import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from shared.auth import CSRF_HEADER, SESSION_COOKIE, csrf_token
from shared.fabric import INSIGHTS_PATH
from tests.job_documents import job_document, store_jobs
from tests.support import synthetic_events, wait_until_finished, work_order

XSS = '<script>alert("spark")</script><img src=x onerror=alert(1)>'
RAW_MARKERS = ("<script>alert", "<img src=x")
FULL_KEY, READ_KEY = "console-full-key-1", "console-read-key-1"
MISSING_ID = "6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11"
FABRIC = "https://fabric.example"


def assert_escaped(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html"), response.headers
    for marker in RAW_MARKERS:
        assert marker not in response.text, f"{response.request.url} shows {marker!r} unescaped"


async def exported(client: httpx.AsyncClient, order: dict[str, Any]) -> dict[str, Any]:
    created = await client.post("/spark", json=order)
    assert created.status_code == 202, created.text
    return await wait_until_finished(client, f"/spark/{created.json()['spark_id']}/status")


async def test_every_page_answers_without_keys(client) -> None:
    failed = await exported(client, work_order(["json"]))  # an empty catalog: it fails

    answers = {
        path: await client.get(path)
        for path in (
            "/console",
            "/console/jobs",
            "/console/jobs?status=failed&kind=export",
            f"/console/jobs/export/{failed['spark_id']}",
            "/console/replicas",
        )
    }
    login = await client.get("/console/login")

    for path, answer in answers.items():
        assert answer.status_code == 200, (path, answer.text)
        assert_escaped(answer)
        assert "<title>" in answer.text and "<h1>" in answer.text
        assert "Log out" not in answer.text  # no keys: an open console has no session
    assert failed["spark_id"][:8] in answers["/console/jobs?status=failed&kind=export"].text
    assert "no events" in answers[f"/console/jobs/export/{failed['spark_id']}"].text
    assert login.status_code == 303 and login.headers["location"] == "/console"


async def test_a_missing_job_or_a_bad_filter_is_a_page_saying_so(client) -> None:
    missing = await client.get(f"/console/jobs/export/{MISSING_ID}")
    malformed = await client.get("/console/jobs/export/not-a-uuid")
    other_kind = await client.get(f"/console/jobs/thing/{MISSING_ID}")
    bad_filter = await client.get("/console/jobs?created_after=yesterday&cursor=nonsense")

    for answer in (missing, malformed, other_kind):
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
        assert "Not found" in answer.text
    assert bad_filter.status_code == 422 and "created_after is not a time" in bad_filter.text


@pytest.fixture
def settings(make_settings):
    return make_settings(fabric_api_url=FABRIC, fabric_api_key="fabric-key", fabric_max_retries=0)


@respx.mock(assert_all_called=False)
async def test_html_in_job_fields_is_escaped_on_every_page(client, catalog) -> None:
    respx.post(FABRIC + INSIGHTS_PATH).mock(return_value=httpx.Response(400, text=XSS))
    path = f"/media/{XSS}.mov"
    events = synthetic_events(XSS, path, 3)
    for event in events:
        event["eventValue"] = XSS
    await catalog.insert_many(events)
    order = work_order(["json", "vtt"], repo_guid=XSS, inputs={"full_path": path}, user_inputs={"prompt": XSS})
    order.pop("media")
    completed = await exported(client, order)
    failed = await exported(client, work_order(["json"], repo_guid=XSS, inputs={"full_path": f"/none/{XSS}"}))
    imported = await client.post(
        "/spark/import",
        json={
            "schemaVersion": "sdna.spark.import.v1",
            "asset": {"repo_guid": XSS, "fullPath": path},
            "tag": XSS,
            "import_job_name": XSS,
            "highlights": [{"comment": XSS, "start": 1.0, "end": 2.0}],
        },
    )
    assert imported.status_code == 202, imported.text
    import_id = imported.json()["import_id"]
    await wait_until_finished(client, f"/spark/import/{import_id}/status")

    pages = [
        "/console",
        "/console/jobs",
        f"/console/jobs?repo_guid={XSS}",
        f"/console/jobs?q={XSS}&status=failed",
        f"/console/jobs?kind={XSS}&created_before={XSS}",
        f"/console/jobs/export/{completed['spark_id']}",
        f"/console/jobs/export/{failed['spark_id']}",
        f"/console/jobs/import/{import_id}",
        "/console/jobs/<img src=x onerror=alert(1)>/" + MISSING_ID,
        "/console/replicas",
    ]
    answers = [await client.get(path) for path in pages]

    assert completed["status"] == "completed" and failed["status"] == "failed", (completed, failed)
    for answer in answers:
        assert_escaped(answer)
    detail = answers[5].text
    assert "&lt;script&gt;alert(&#34;spark&#34;)&lt;/script&gt;" in detail  # shown, as text
    assert f"/spark/{completed['spark_id']}/package" in detail and f"/console/spark/{completed['spark_id']}" in detail
    assert "&lt;script&gt;" in answers[6].text and "no events" in answers[6].text
    assert "&lt;script&gt;" in answers[7].text and "Batches sent to Fabric" in answers[7].text
    # The filter handed to the page's script is JSON with `<` escaped, so it cannot end the script element.
    assert '"repo_guid": "\\u003cscript\\u003e' in answers[2].text


# --- keys, login and CSRF --------------------------------------------------------------------------


@pytest.fixture
async def keyed(app_factory, make_settings) -> Any:
    return await app_factory(make_settings(api_keys=[FULL_KEY], api_read_keys=[READ_KEY]))


@pytest.fixture
async def browserish(keyed) -> Any:
    """A client holding cookies, like a browser: no X-API-Key header unless a request adds one."""
    transport = httpx.ASGITransport(app=keyed)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def api(keyed) -> Any:
    """An API client with the full key in its header."""
    transport = httpx.ASGITransport(app=keyed)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": FULL_KEY}
    ) as http:
        yield http


async def log_in(http: httpx.AsyncClient, key: str, next_page: str = "/console/jobs") -> httpx.Response:
    return await http.post("/console/login", data={"key": key, "next": next_page})


async def test_without_a_key_every_page_sends_to_the_login_and_every_action_is_401(browserish) -> None:
    pages = ["/console", "/console/jobs?status=failed", f"/console/jobs/export/{MISSING_ID}", "/console/replicas"]
    answers = [await browserish.get(path) for path in pages]
    actions = [
        await browserish.post("/jobs/retry", json={"dry_run": False}),
        await browserish.post(f"/spark/{MISSING_ID}/retry"),
        await browserish.post(f"/spark/{MISSING_ID}/cancel"),
        await browserish.patch(f"/spark/{MISSING_ID}", json={"priority": "high"}),
    ]
    form = await browserish.get("/console/login?next=/console/jobs")

    for path, answer in zip(pages, answers, strict=True):
        assert answer.status_code == 303, path
        location = urlsplit(answer.headers["location"])
        assert location.path == "/console/login" and parse_qs(location.query)["next"] == [path]
    assert [action.status_code for action in actions] == [401] * 4
    assert form.status_code == 200 and 'type="password"' in form.text and 'value="/console/jobs"' in form.text
    assert FULL_KEY not in form.text and READ_KEY not in form.text


async def test_a_bad_key_is_refused_and_a_good_one_sets_the_session_cookie(browserish) -> None:
    bad = await log_in(browserish, "not-a-key")
    good = await log_in(browserish, FULL_KEY, "/console/jobs?status=failed")
    page = await browserish.get("/console/jobs")

    assert bad.status_code == 401 and "not valid" in bad.text and "not-a-key" not in bad.text
    assert good.status_code == 303 and good.headers["location"] == "/console/jobs?status=failed"
    cookie = good.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS it is Secure
    assert page.status_code == 200 and "Log out" in page.text and "Read-only" not in page.text
    assert f'<meta name="csrf-token" content="{csrf_token(FULL_KEY)}">' in page.text
    assert FULL_KEY not in page.text  # the console never shows a secret


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/console", "/\\evil.example", "/spark", "/consolex", "javascript:x"],
)
async def test_the_login_only_sends_back_to_a_console_page(browserish, target: str) -> None:
    answer = await log_in(browserish, FULL_KEY, target)

    assert answer.status_code == 303 and answer.headers["location"] == "/console"


async def test_a_cookie_session_must_carry_the_csrf_token_to_act(browserish) -> None:
    await log_in(browserish, FULL_KEY)

    forged = await browserish.post("/jobs/retry", json={"dry_run": True})
    wrong = await browserish.post("/jobs/retry", json={"dry_run": True}, headers={CSRF_HEADER: "0" * 64})
    forged_logout = await browserish.post("/console/logout", data={})
    still_in = await browserish.get("/console")
    allowed = await browserish.post("/jobs/retry", json={"dry_run": True}, headers={CSRF_HEADER: csrf_token(FULL_KEY)})

    assert forged.status_code == 403 and forged.headers["content-type"].startswith("application/problem+json")
    assert wrong.status_code == 403
    assert forged_logout.status_code == 403
    assert still_in.status_code == 200
    assert allowed.status_code == 200 and allowed.json()["dry_run"] is True


async def test_logging_out_ends_the_session(browserish) -> None:
    await log_in(browserish, FULL_KEY)
    page = await browserish.get("/console")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)

    out = await browserish.post("/console/logout", data={"csrf_token": token})
    after = await browserish.get("/console")

    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert f"{SESSION_COOKIE}=" in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert after.status_code == 303 and after.headers["location"].startswith("/console/login")


async def test_another_site_can_neither_log_a_browser_in_nor_out(browserish) -> None:
    cross = {"Sec-Fetch-Site": "cross-site"}
    planted = await browserish.post("/console/login", data={"key": FULL_KEY}, headers=cross)
    by_origin = await browserish.post(
        "/console/login", data={"key": FULL_KEY}, headers={"Origin": "https://evil.example"}
    )
    await log_in(browserish, FULL_KEY)
    token = csrf_token(FULL_KEY)
    thrown_out = await browserish.post("/console/logout", data={"csrf_token": token}, headers=cross)
    still_in = await browserish.get("/console")
    browserish.cookies.clear()
    no_session = await browserish.post("/console/logout", data={})

    assert planted.status_code == 403 and "set-cookie" not in planted.headers
    assert by_origin.status_code == 403 and "set-cookie" not in by_origin.headers
    assert thrown_out.status_code == 403 and still_in.status_code == 200
    # Nothing to end: the answer touches no cookie (a cross-site post would carry none either).
    assert no_session.status_code == 303 and "set-cookie" not in no_session.headers


async def test_the_session_cookie_is_secure_in_production(app_factory, make_settings) -> None:
    app = await app_factory(make_settings(api_keys=[FULL_KEY], environment="production"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        answer = await log_in(http, FULL_KEY)

    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


async def test_odd_limits_and_times_out_of_range_are_a_page_not_a_500(client) -> None:
    odd_limit = await client.get("/console/jobs", params={"limit": "²"})
    too_early = await client.get("/console/jobs", params={"created_after": "0001-01-01T00:00:00+01:00"})
    api_list = await client.get("/jobs", params={"created_before": "0001-01-01T00:00:00+01:00"})
    api_retry = await client.post("/jobs/retry", json={"created_after": "0001-01-01T00:00:00+01:00"})

    assert odd_limit.status_code == 200
    assert too_early.status_code == 422 and "created_after is out of range" in too_early.text
    assert api_list.status_code == 422 and api_list.json()["errors"][0]["pointer"] == "query:created_before"
    assert api_retry.status_code == 422 and "created_after" in api_retry.text


async def test_a_read_key_sees_a_job_without_its_actions_and_is_refused_them(browserish, api) -> None:
    failed = await exported(api, work_order(["json"]))
    spark_id = failed["spark_id"]
    await log_in(browserish, READ_KEY)

    detail = await browserish.get(f"/console/jobs/export/{spark_id}")
    jobs = await browserish.get("/console/jobs")
    token = {CSRF_HEADER: csrf_token(READ_KEY)}
    by_cookie = await browserish.post(f"/spark/{spark_id}/retry", headers=token)
    bulk = await browserish.post("/jobs/retry", json={"dry_run": True}, headers=token)
    by_header = await browserish.post(f"/spark/{spark_id}/retry", headers={"X-API-Key": READ_KEY})
    still_failed = await api.get(f"/spark/{spark_id}/status")

    assert failed["status"] == "failed"
    assert detail.status_code == 200 and "no events" in detail.text and "Read-only session" in detail.text
    assert 'data-action="retry"' not in detail.text and "Retry this job" not in detail.text
    assert "bulk-dry-run" not in jobs.text and spark_id[:8] in jobs.text
    for refused in (by_cookie, bulk, by_header):
        assert refused.status_code == 403 and refused.headers["content-type"].startswith("application/problem+json")
    assert still_failed.json()["status"] == "failed"


async def test_a_full_key_job_page_offers_the_actions_of_its_status(browserish, api) -> None:
    failed = await exported(api, work_order(["json"]))
    await log_in(browserish, FULL_KEY)

    detail = await browserish.get(f"/console/jobs/export/{failed['spark_id']}")

    assert f'data-action="retry" data-url="/spark/{failed["spark_id"]}/retry"' in detail.text
    assert 'data-action="cancel"' not in detail.text  # a finished job cannot be cancelled
    assert 'data-action="priority"' not in detail.text  # nor re-prioritized


def overview_numbers(html: str) -> str:
    """The overview's figures and tables as rendered: the page's main content."""
    return html[html.index('<main id="main">') : html.index("</main>")]


async def test_two_replicas_show_the_same_overview_and_a_restart_changes_nothing(make_settings) -> None:
    from main import create_app

    settings = make_settings()

    async def overviews(count: int, submit: int = 0) -> list[str]:
        apps = [create_app(settings) for _ in range(count)]
        lifespans = [app.router.lifespan_context(app) for app in apps]
        for lifespan in lifespans:
            await lifespan.__aenter__()
        try:
            clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") for app in apps]
            for number in range(submit):
                await exported(clients[number % count], work_order(["json"], repo_guid=f"repo-{number}"))
            pages = [overview_numbers((await http.get("/console")).text) for http in clients]
            for http in clients:
                await http.aclose()
            return pages
        finally:
            for lifespan in reversed(lifespans):
                await lifespan.__aexit__(None, None, None)

    before = await overviews(2, submit=3)  # three failed exports, made by both replicas
    after = await overviews(2)  # both restarted

    assert before[0] == before[1] == after[0] == after[1]
    assert re.search(r'data-status="failed"><a [^>]*>3</a>', before[0]), before[0]


async def test_the_list_polls_and_bulk_retries_the_api_with_the_filter_it_shows(client) -> None:
    failed = await exported(client, work_order(["json"], repo_guid="poll-repo"))
    await exported(client, work_order(["json"], repo_guid="other-repo"))
    path = (
        "/console/jobs?kind=export&status=failed&repo_guid=poll-repo&priority=normal&q=no+events"
        "&created_after=2020-01-01T00:00&created_before=2999-01-01T00:00:00Z&limit=25"
    )

    answer = await client.get(path)
    api_url = html.unescape(re.search(r'data-api-url="([^"]+)"', answer.text).group(1))
    polled = await client.get(api_url)
    retry_filter = json.loads(re.search(r'id="retry-filter">([^<]+)</script>', answer.text).group(1))
    dry_run = await client.post("/jobs/retry", json={**retry_filter, "dry_run": True})

    assert answer.status_code == 200 and failed["spark_id"][:8] in answer.text
    assert "created_after=2020-01-01T00%3A00%3A00%2B00%3A00" in api_url and "limit=25" in api_url
    assert polled.status_code == 200, polled.text
    assert [job["id"] for job in polled.json()["jobs"]] == [failed["spark_id"]]
    assert dry_run.status_code == 200, dry_run.text
    assert dry_run.json()["matched"] == 1 and dry_run.json()["ids"] == [failed["spark_id"]]


async def test_a_job_by_its_id_alone_leads_to_its_page(client) -> None:
    failed = await exported(client, work_order(["json"]))

    found = await client.get(f"/console/jobs/{failed['spark_id'].upper()}")
    missing = await client.get(f"/console/jobs/{MISSING_ID}")

    assert found.status_code == 303 and found.headers["location"] == f"/console/jobs/export/{failed['spark_id']}"
    assert missing.status_code == 404 and "Not found" in missing.text


async def test_the_replicas_page_lists_the_heartbeats_and_marks_the_stale_ones(app, client) -> None:
    await app.state.database.collection("replicas").insert_one(
        {
            "_id": "gone:1:abc",
            "host": XSS,
            "pid": 7,
            "version": "0.9",
            "started_at": datetime.now(UTC) - timedelta(hours=2),
            # Past 2 × LEASE_SECONDS (stale), within the day after which the heartbeats' sweep deletes it.
            "last_seen": datetime.now(UTC) - timedelta(minutes=10),
            "slots": {"export": {"used": 1, "limit": 2}, "import": {"used": 0, "limit": 2}},
        }
    )
    live_id = app.state.runner.worker_id

    answer = await client.get("/console/replicas")
    for _ in range(50):  # the heartbeat task writes its first beat right after start-up
        if live_id in answer.text:
            break
        await asyncio.sleep(0.1)
        answer = await client.get("/console/replicas")

    assert_escaped(answer)
    stale = re.search(r'<tr class="stale" data-id="gone:1:abc">.*?</tr>', answer.text, re.S)
    assert stale and "1 of 2" in stale.group(0) and "stale" in stale.group(0)
    live = re.search(rf'<tr data-id="{re.escape(live_id)}">.*?</tr>', answer.text, re.S)
    assert live and ">live<" in live.group(0)


async def test_a_long_work_order_is_cut_on_the_page(client) -> None:
    event_ids = [f"event {n} " + "x" * 80 for n in range(2000)]
    failed = await exported(client, work_order(["json"], inputs={"full_path": "/long.mov", "event_ids": event_ids}))

    answer = await client.get(f"/console/jobs/export/{failed['spark_id']}")

    assert answer.status_code == 200 and "longer than this page shows" in answer.text
    assert "event 5 " in answer.text and "event 1999 " not in answer.text
    assert len(answer.text) < 200_000


async def test_the_list_pages_with_the_api_cursors_newest_first(app, client) -> None:
    now = datetime.now(UTC)
    documents = [job_document(repo_guid="paged", created_at=now - timedelta(minutes=n)) for n in range(30)]
    ids = await store_jobs(app.state.database, documents)  # newest first

    first = await client.get("/console/jobs?repo_guid=paged&limit=25&created_after=2020-01-01T01:00:00%2B01:00")
    next_link = html.unescape(re.search(r'<a href="([^"]+)" rel="next"', first.text).group(1))
    second = await client.get(next_link)
    shown = [re.findall(r'<tr data-id="([^"]+)">', page.text) for page in (first, second)]

    assert first.status_code == 200 and second.status_code == 200
    assert shown == [ids[:25], ids[25:]]
    assert 'rel="next"' not in second.text and ">Newest</a>" in second.text
    assert "(30 matching, newest first)" in first.text
    assert 'value="2020-01-01T00:00:00"' in first.text  # the time shown back in UTC, as the form takes it
    polled = await client.get(html.unescape(re.search(r'data-api-url="([^"]+)"', second.text).group(1)))
    assert [job["id"] for job in polled.json()["jobs"]] == ids[25:]
