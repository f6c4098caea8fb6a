"""Read keys, the console's session cookie and its CSRF token (SPEC §3, §10), through the real app."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import Request
from pydantic import SecretStr
from starlette.requests import Request as StarletteRequest

from shared.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Access,
    ApiKeys,
    csrf_matches,
    csrf_token,
    key_access,
    request_access,
    request_csrf_token,
    safe_next_path,
    session_cookie_options,
)

FULL = "full-key-0123456789abcdef"
READ = "read-key-fedcba9876543210"
RETRY = {"repo_guid": "nobody"}  # a dry run: changes nothing, answers 200 when allowed


@pytest.fixture
def settings(make_settings):
    return make_settings(api_keys=FULL, api_read_keys=f"{READ}, another-read-key")


@pytest.fixture
async def probed(app):
    """The app with a route that says what the middleware stored, as a console handler reads it."""

    async def probe(request: Request) -> dict:
        return {
            "access": request_access(request),
            "csrf": request_csrf_token(request),
            "matches": csrf_matches(request, request.query_params.get(CSRF_FIELD)),
        }

    app.add_api_route("/test-probe", probe, methods=["GET", "POST"])
    return app


def cookie_client(app, key: str | None = None) -> httpx.AsyncClient:
    cookies = {SESSION_COOKIE: key} if key is not None else None
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", cookies=cookies)


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith(f":{slug}"), response.json()


async def test_a_read_key_reads_everything_and_changes_nothing(client: httpx.AsyncClient) -> None:
    read = {"X-API-Key": READ}
    assert (await client.get("/spark", params={"repo_guid": "r"}, headers=read)).status_code == 200
    assert (await client.get("/jobs", headers=read)).status_code == 200
    assert (await client.head("/jobs", headers=read)).status_code not in (401, 403)  # 405: FastAPI has no HEAD
    assert (await client.get("/jobs/stats", headers={"X-API-Key": "another-read-key"})).status_code == 200

    refused = [
        await client.post("/jobs/retry", json=RETRY, headers=read),
        await client.post("/spark", json={}, headers=read),
        await client.patch("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11", json={"priority": "high"}, headers=read),
        await client.delete("/jobs", headers=read),
    ]
    for response in refused:
        assert_problem(response, 403, "read-only-key")
    assert (await client.post("/jobs/retry", json=RETRY, headers={"X-API-Key": FULL})).status_code == 200


async def test_the_session_cookie_authenticates_like_the_header(app) -> None:
    async with cookie_client(app, FULL) as browser:
        assert (await browser.get("/jobs")).status_code == 200
        assert (await browser.get("/spark", params={"repo_guid": "r"})).status_code == 200
    async with cookie_client(app, "not-a-key") as browser:
        assert_problem(await browser.get("/jobs"), 401, "unauthorized")


async def test_a_cookie_action_needs_the_csrf_token_of_its_key(app) -> None:
    async with cookie_client(app, FULL) as browser:
        assert_problem(await browser.post("/jobs/retry", json=RETRY), 403, "csrf")
        wrong = {CSRF_HEADER: csrf_token("some-other-key")}
        assert_problem(await browser.post("/jobs/retry", json=RETRY, headers=wrong), 403, "csrf")
        right = {CSRF_HEADER: csrf_token(FULL)}
        assert (await browser.post("/jobs/retry", json=RETRY, headers=right)).status_code == 200
        # Reads need none.
        assert (await browser.get("/jobs/stats")).status_code == 200
    async with cookie_client(app, READ) as browser:
        assert_problem(await browser.post("/jobs/retry", json=RETRY), 403, "csrf")
        forged_not = {CSRF_HEADER: csrf_token(READ)}
        assert_problem(await browser.post("/jobs/retry", json=RETRY, headers=forged_not), 403, "read-only-key")


async def test_the_header_needs_no_csrf_token_and_wins_over_the_cookie(app) -> None:
    async with cookie_client(app, READ) as browser:
        response = await browser.post("/jobs/retry", json=RETRY, headers={"X-API-Key": FULL})
        assert response.status_code == 200, response.text
        assert_problem(await browser.get("/jobs", headers={"X-API-Key": "wrong"}), 401, "unauthorized")


async def test_console_pages_send_a_browser_without_a_key_to_the_login_page(app) -> None:
    async with cookie_client(app) as browser:
        page = await browser.get("/console")
        deep = await browser.get("/console/jobs", params={"status": "failed", "repo_guid": "a b"})
        head = await browser.head("/console")
        action = await browser.post("/console/jobs/retry", data={"x": "1"})
    assert page.status_code == 303 and page.headers["location"] == "/console/login?next=%2Fconsole"
    assert deep.status_code == 303
    assert deep.headers["location"] == "/console/login?next=%2Fconsole%2Fjobs%3Fstatus%3Dfailed%26repo_guid%3Da%2Bb"
    assert head.status_code == 303
    assert_problem(action, 401, "unauthorized")
    async with cookie_client(app, "expired-key") as browser:
        assert (await browser.get("/console")).status_code == 303


async def test_the_login_page_and_static_files_are_open(app) -> None:
    async with cookie_client(app) as browser:
        static = await browser.get("/console/static/console.css")
        login = await browser.get("/console/login")
        login_post = await browser.post("/console/login", data={"key": "x"})
        logout_post = await browser.post("/console/logout", data={CSRF_FIELD: "x"})
    assert static.status_code == 200
    # Past the middleware: the console's handlers answer these (a bad key's login page is a 401 of
    # theirs, in HTML; a login or logout ends in their redirect), never the middleware's refusals.
    for response in (login, login_post, logout_post):
        assert passed_the_middleware(response), (response.status_code, response.headers)


def passed_the_middleware(response) -> bool:
    """Not refused by the key check: no problem+json of it and no redirect to the login page."""
    refused = response.headers.get("content-type", "").startswith("application/problem+json") and (
        response.json().get("type", "").rsplit(":", 1)[-1] in ("unauthorized", "csrf", "read-only-key")
    )
    sent_to_login = "next=" in response.headers.get("location", "")
    return not refused and not sent_to_login


async def test_a_read_key_session_may_log_in_and_out_without_the_header(app) -> None:
    async with cookie_client(app, READ) as browser:
        for path in ("/console/login", "/console/logout"):
            response = await browser.post(path, data={CSRF_FIELD: csrf_token(READ)})
            assert passed_the_middleware(response), (path, response.status_code)


async def test_handlers_read_the_access_and_the_csrf_token(probed) -> None:
    async with cookie_client(probed, FULL) as browser:
        by_cookie = (await browser.get("/test-probe", params={CSRF_FIELD: csrf_token(FULL)})).json()
        forged = (await browser.get("/test-probe", params={CSRF_FIELD: csrf_token(READ)})).json()
    async with cookie_client(probed, READ) as browser:
        read = (await browser.get("/test-probe")).json()
    async with cookie_client(probed) as browser:
        by_header = (await browser.get("/test-probe", headers={"X-API-Key": FULL})).json()

    assert by_cookie == {"access": "full", "csrf": csrf_token(FULL), "matches": True}
    assert forged["matches"] is False
    assert read == {"access": "read", "csrf": csrf_token(READ), "matches": False}
    assert by_header == {"access": "full", "csrf": None, "matches": True}


async def test_without_keys_everything_is_open(make_settings, app_factory) -> None:
    app = await app_factory(make_settings())

    async def probe(request: Request) -> dict:
        return {"access": request_access(request), "csrf": request_csrf_token(request)}

    app.add_api_route("/test-probe", probe, methods=["GET"])
    async with cookie_client(app) as browser:
        assert (await browser.get("/test-probe")).json() == {"access": "open", "csrf": None}
        assert (await browser.post("/jobs/retry", json=RETRY)).status_code == 200
        assert (await browser.get("/console")).status_code == 200


async def test_neither_keys_nor_tokens_are_logged(app, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        async with cookie_client(app, FULL) as browser:
            await browser.get("/jobs")
            await browser.post("/jobs/retry", json=RETRY, headers={CSRF_HEADER: csrf_token(FULL)})
            await browser.post("/jobs/retry", json=RETRY)
        async with cookie_client(app, READ) as browser:
            await browser.post("/jobs/retry", json=RETRY, headers={CSRF_HEADER: csrf_token(READ)})
            await browser.get("/console")
    assert caplog.records
    for secret in (FULL, READ, csrf_token(FULL), csrf_token(READ)):
        assert secret not in caplog.text


def test_key_access_tells_full_read_and_unknown_keys_apart() -> None:
    keys = ApiKeys.of([SecretStr(FULL)], [SecretStr(READ)])
    assert key_access(FULL, keys) is Access.full
    assert key_access(READ.encode(), keys) is Access.read
    assert key_access(READ + "x", keys) is None
    assert key_access("", keys) is None
    assert key_access("anything", ApiKeys()) is Access.open


def test_key_access_reads_the_settings(make_settings) -> None:
    settings = make_settings(api_keys=FULL, api_read_keys=READ)
    assert key_access(FULL, settings) is Access.full
    assert key_access(READ, settings) is Access.read
    assert key_access("nope", settings) is None


def test_the_csrf_token_is_stable_per_key_and_hides_it() -> None:
    token = csrf_token(FULL)
    assert token == csrf_token(FULL)
    assert token != csrf_token(READ)
    assert len(token) == 64 and int(token, 16) >= 0
    assert FULL not in token


def request_for(scheme: str) -> StarletteRequest:
    scope = {"type": "http", "scheme": scheme, "method": "POST", "path": "/console/login", "headers": []}
    return StarletteRequest({**scope, "server": ("testserver", 80)})


def test_the_cookie_is_http_only_strict_and_secure_over_https() -> None:
    plain = session_cookie_options(request_for("http"))
    secure = session_cookie_options(request_for("https"))
    assert plain == {"key": SESSION_COOKIE, "path": "/", "httponly": True, "samesite": "strict", "secure": False}
    assert secure["secure"] is True
    assert session_cookie_options(request_for("http"), always_secure=True)["secure"] is True


def test_a_login_only_ever_goes_on_to_a_console_page() -> None:
    assert safe_next_path("/console/jobs?status=failed") == "/console/jobs?status=failed"
    assert safe_next_path("/console") == "/console"
    bad_ones = (None, "", "https://evil.example/console", "//evil.example/console", "/consolex", "/spark", "/console\\")
    for bad in bad_ones:
        assert safe_next_path(bad) == "/console", bad


async def test_the_middleware_check_of_these_tests_sees_a_refusal(app) -> None:
    async with cookie_client(app) as browser:
        refused = await browser.post("/spark/00000000-0000-4000-8000-000000000000/retry")
        redirected = await browser.get("/console/jobs")
    assert not passed_the_middleware(refused)
    assert not passed_the_middleware(redirected)
