"""The console in a real browser (Debian's Chromium through Playwright): log in and out, the read-only
key, a failed job retried and watched to completion, a running job cancelled, a bulk retry with its
dry-run count, the list's filters, and axe-core on every page.

Jobs fail, complete or run for as long as a test needs through the real export pipeline: an empty
catalog makes an export fail ("no events"), the demo asset makes it complete, and a CSV writer held
at a gate keeps one running until the test opens the gate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from features.create_export.writers import SEGMENT_WRITERS, SegmentFormat
from tests.console.accessibility import describe, serious_violations
from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset

FULL_KEY, READ_KEY = "browser-full-key-1", "browser-read-key-1"


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Exports asking for CSV wait (in their writer thread) until the test sets this event."""
    opened = threading.Event()
    original = SEGMENT_WRITERS["csv"].write

    def held_writer(path: Any, segments: Any, timeline: Any) -> Any:
        opened.wait(timeout=30)
        return original(path, segments, timeline)

    monkeypatch.setitem(SEGMENT_WRITERS, "csv", SegmentFormat("csv", held_writer))
    yield opened
    opened.set()  # never leave a writer thread waiting past its test


def api_client(server: Any, key: str | None = None) -> httpx.AsyncClient:
    headers = {"X-API-Key": key} if key else {}
    return httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=10)


async def export(http: httpx.AsyncClient, order: dict[str, Any], wait: bool = True) -> dict[str, Any]:
    created = await http.post("/spark", json=order)
    assert created.status_code == 202, created.text
    if not wait:
        return created.json()
    return await wait_until_finished(http, f"/spark/{created.json()['spark_id']}/status")


async def assert_accessible(page: Any) -> None:
    violations = await serious_violations(page)
    assert not violations, describe(violations)


async def log_in(page: Any, server: Any, key: str, start: str = "/console") -> None:
    await page.goto(server.url(start))
    await expect(page).to_have_title("Log in · AI Spark console")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Log in").click()


async def test_log_in_with_a_key_and_out(live_server: Any, page: Any) -> None:
    server = await live_server(api_keys=[FULL_KEY], api_read_keys=[READ_KEY])

    await page.goto(server.url("/console/jobs?status=failed"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    await assert_accessible(page)
    await page.get_by_label("API key").fill("not the key")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await page.get_by_label("API key").fill(FULL_KEY)
    await page.get_by_role("button", name="Log in").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    assert page.url.endswith("/console/jobs?status=failed")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "ai_spark_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    await page.get_by_role("link", name="Replicas").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Replicas")
    await assert_accessible(page)
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    await page.goto(server.url("/console"))
    await expect(page).to_have_title("Log in · AI Spark console")


async def test_a_read_only_key_sees_a_job_but_gets_403_on_retry(live_server: Any, page: Any) -> None:
    server = await live_server(api_keys=[FULL_KEY], api_read_keys=[READ_KEY])
    async with api_client(server, FULL_KEY) as http:
        failed = await export(http, work_order(["json"]))  # an empty catalog: it fails

    await log_in(page, server, READ_KEY, f"/console/jobs/export/{failed['spark_id']}")
    await expect(page.locator("#job-status")).to_have_text("failed")
    await expect(page.get_by_text("Read-only session")).to_be_visible()
    assert await page.get_by_role("button", name="Retry this job").count() == 0
    refused = await page.evaluate(
        """async (url) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const response = await fetch(url, {method: "POST", headers: {"X-CSRF-Token": token}});
            return {status: response.status, body: await response.json()};
        }""",
        f"/spark/{failed['spark_id']}/retry",
    )

    assert refused["status"] == 403 and "read" in refused["body"]["detail"]
    async with api_client(server, FULL_KEY) as http:
        assert (await http.get(f"/spark/{failed['spark_id']}/status")).json()["status"] == "failed"


async def test_a_failed_job_shows_its_attempts_is_retried_and_completes(live_server: Any, page: Any, catalog) -> None:
    server = await live_server()
    async with api_client(server) as http:
        failed = await export(http, work_order(["json"]))

    await page.goto(server.url(f"/console/jobs/export/{failed['spark_id']}"))
    await expect(page.locator("#job-status")).to_have_text("failed")
    await expect(page.locator("#runs tbody tr")).to_have_count(1)
    await expect(page.locator("#runs")).to_contain_text("no events")
    await expect(page.locator("#job-error")).to_contain_text("no events")
    await assert_accessible(page)
    await load_demo_asset(catalog)  # the retry finds the asset's events
    await page.get_by_role("button", name="Retry this job").click()

    await expect(page.locator("#job-status")).to_have_text("completed", timeout=30_000)
    await expect(page.locator("#runs tbody tr")).to_have_count(2)
    await expect(page.locator("#retries")).to_contain_text("failed")
    await expect(page.locator("#viewer-link")).to_have_attribute("href", f"/console/spark/{failed['spark_id']}")
    await expect(page.locator("#package-link")).to_have_attribute("href", f"/spark/{failed['spark_id']}/package")
    link = page.locator("#artifacts a").first
    async with api_client(server) as http:
        artifact = await http.get(await link.get_attribute("href"))
    assert artifact.status_code == 200
    await assert_accessible(page)


async def test_cancel_a_running_job(live_server: Any, page: Any, catalog, gate: threading.Event) -> None:
    await load_demo_asset(catalog)
    server = await live_server()
    async with api_client(server) as http:
        running = await export(http, work_order(["csv"]), wait=False)

    await page.goto(server.url(f"/console/jobs/export/{running['spark_id']}"))
    await expect(page.locator("#job-status")).to_have_text("processing")
    await page.get_by_role("button", name="Cancel this job").click()
    await expect(page.locator("#action-result")).to_contain_text("Cancel requested")
    gate.set()  # the writer returns; the job stops at its next step

    await expect(page.locator("#job-status")).to_have_text("cancelled", timeout=30_000)
    # The page swaps its actions in once it has fetched itself again: wait for that, do not race it.
    await expect(page.get_by_role("button", name="Cancel this job")).to_have_count(0)


async def test_filter_by_status_and_repository_and_bulk_retry_with_its_dry_run_count(
    live_server: Any, page: Any
) -> None:
    server = await live_server()
    async with api_client(server) as http:
        chosen = [await export(http, work_order(["json"], repo_guid="bulk-repo")) for _ in range(2)]
        other = await export(http, work_order(["json"], repo_guid="other-repo"))

    await page.goto(server.url("/console/jobs"))
    await expect(page.locator("#jobs-table tbody tr")).to_have_count(3)
    await page.get_by_label("Status").select_option("failed")
    await page.get_by_label("Repository").fill("bulk-repo")
    await page.get_by_role("button", name="Apply filters").click()
    await expect(page.locator("#jobs-table tbody tr")).to_have_count(2)
    assert "repo_guid=bulk-repo" in page.url and "status=failed" in page.url
    await assert_accessible(page)
    await page.get_by_role("button", name="Count the jobs to retry").click()
    await expect(page.locator("#bulk-result")).to_have_text("Dry run: 2 jobs would be retried.")
    await page.get_by_role("button", name="Retry them").click()
    await expect(page.locator("#bulk-result")).to_have_text("Retried 2 jobs.")

    async with api_client(server) as http:
        statuses = [(await http.get(f"/spark/{job['spark_id']}")).json() for job in chosen]
        untouched = (await http.get(f"/spark/{other['spark_id']}")).json()
    assert [len(job["retries"]) for job in statuses] == [1, 1]
    assert untouched["retries"] == [] and untouched["status"] == "failed"


async def test_a_pending_job_gets_a_new_priority_and_an_action_refused_shows_why(live_server: Any, page: Any) -> None:
    server = await live_server(export_concurrency=0)  # nothing runs: the job stays pending
    async with api_client(server) as http:
        pending = await export(http, work_order(["json"]), wait=False)

    await page.goto(server.url(f"/console/jobs/export/{pending['spark_id']}"))
    await expect(page.locator("#job-status")).to_have_text("pending")
    await page.get_by_label("Priority", exact=True).select_option("high")
    await page.get_by_role("button", name="Change priority").click()
    await expect(page.locator("#action-result")).to_have_text("Priority changed to high.")
    await expect(page.locator("#action-result")).to_be_focused()  # the keyboard stays where the news is
    await expect(page.locator("#job-priority")).to_have_text("high")
    status_url = f"**/spark/{pending['spark_id']}/status"
    await page.route(status_url, lambda route: route.abort())  # the page cannot see the change below
    async with api_client(server) as http:
        assert (await http.post(f"/spark/{pending['spark_id']}/cancel")).status_code == 202
    await page.get_by_role("button", name="Change priority").click()

    await expect(page.locator("#action-result")).to_contain_text("409")
    await expect(page.locator("#action-result")).to_contain_text("cancelled")  # the problem's detail
    await page.unroute(status_url)
    await expect(page.locator("#job-status")).to_have_text("cancelled")


async def test_the_overview_and_the_list_show_a_job_go_from_pending_to_completed_without_a_reload(
    live_server: Any, page: Any, catalog, gate: threading.Event
) -> None:
    await load_demo_asset(catalog)
    server = await live_server(export_concurrency=1)
    async with api_client(server) as http:
        await export(http, work_order(["csv"]), wait=False)  # holds the one slot at the gate
        waiting = await export(http, work_order(["json"]), wait=False)
    listing = await page.context.new_page()

    await page.goto(server.url("/console"))
    await expect(page.locator("#queue-depth")).to_contain_text("1 (export 1")
    completed = page.locator("#by-kind tbody tr", has_text="export").locator('td[data-status="completed"]')
    await expect(completed).to_have_text("0")
    await assert_accessible(page)
    await listing.goto(server.url("/console/jobs?repo_guid=demo-repo"))
    row = listing.locator(f'#jobs-table tr[data-id="{waiting["spark_id"]}"]')
    await expect(row.locator('[data-field="status"]')).to_have_text("pending")
    for opened in (page, listing):
        await opened.evaluate("window.notReloaded = true")
    gate.set()

    await expect(completed).to_have_text("2", timeout=30_000)
    await expect(page.locator("#queue-depth")).to_contain_text("0 (export 0")
    await expect(row.locator('[data-field="status"]')).to_have_text("completed", timeout=30_000)
    for opened in (page, listing):
        assert await opened.evaluate("window.notReloaded === true")
