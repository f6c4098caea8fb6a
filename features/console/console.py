"""`GET /console...` — the web console (SPEC §10): server-rendered pages over the documented API.

The console is a client of the API: every number it shows comes from a documented endpoint or a
`shared/` query those endpoints use too, and every action is a `fetch` to a documented REST endpoint.
It imports no other feature. Pages are HTML (Jinja2, autoescaped); `static/` holds our own CSS and JS.

Pages: the overview (`/console`, live from `GET /jobs/stats` and `GET /health`), the job list
(`/console/jobs`, the filters of `GET /jobs`, paged with its cursors), one job
(`/console/jobs/{kind}/{id}`: work order, attempts, manifest, batches and the actions), the replicas
(`/console/replicas`, from `GET /replicas`), and the login (`/console/login`, `/console/logout`) that
keeps the API key in an HttpOnly cookie when `API_KEYS` is set. A missing job is a 404 page; a
read-only key sees the same pages without their action buttons (the API refuses them with 403 anyway).

Each page is complete as served (no script needed to read it); `static/console.js` then keeps it live
by polling the same endpoints every 2 s — each poll waits for the previous answer, so they never pile
up, and pauses while the tab is hidden — and swaps values in as text, never as HTML.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from features.console.job_list import KINDS, PAGE_SIZES, PRIORITIES, STATUSES, job_link, list_context, read_list_form
from features.console.rendering import render, static_file
from shared.auth import (
    CSRF_FIELD,
    Access,
    csrf_matches,
    key_access,
    request_access,
    request_csrf_token,
    safe_next_path,
    session_cookie_options,
)
from shared.db import DatabaseDep
from shared.job_search import search_jobs_shared
from shared.job_stats import job_stats
from shared.jobs import FINISHED, Job, JobStatus, load_job
from shared.problems import Problem
from shared.replicas import list_replicas

router = APIRouter(prefix="/console", include_in_schema=False)

RETRYABLE = ("failed", "cancelled")  # one job's retry (`POST /spark/{id}/retry`)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A console page with the session in its context: the access (open, full or read) and the CSRF
    token the base template puts in `<meta name="csrf-token">` for the page's `fetch` calls."""
    access = request_access(request)
    return render(
        request,
        template,
        status_code=status_code,
        access=access.value if access else None,
        read_only=access == Access.read,
        keys_on=keys_configured(request),
        csrf_token=request_csrf_token(request),
        **context,
    )


def keys_configured(request: Request) -> bool:
    settings = request.app.state.settings
    return bool(settings.api_keys or settings.api_read_keys)


def not_found(request: Request, detail: str) -> HTMLResponse:
    return page(request, "not_found.html", status_code=404, title="Not found", detail=detail)


# --- login and logout ------------------------------------------------------------------------------


def local_next(target: str | None) -> str:
    """Where to go after logging in: a console page of this site only (`safe_next_path`), and never
    the login or logout again."""
    chosen = safe_next_path(target)
    if any(ord(char) < 0x20 for char in chosen) or urlsplit(chosen).path.startswith(
        ("/console/login", "/console/logout")
    ):
        return "/console"
    return chosen


@router.get("/login", response_class=HTMLResponse)
async def console_login_form(request: Request, next: str | None = None) -> Response:
    if not keys_configured(request):
        return RedirectResponse(local_next(next), status_code=303)
    return page(request, "login.html", title="Log in", next=local_next(next), error=None)


def cookie_options(request: Request) -> dict[str, Any]:
    """The session cookie's options; Secure always in production, whatever scheme the request shows."""
    return session_cookie_options(request, always_secure=request.app.state.settings.environment == "production")


def from_this_site(request: Request) -> bool:
    """Whether a form post came from one of our pages. Browsers say so in `Sec-Fetch-Site` (or at
    least `Origin`); a post that says it came from elsewhere is refused, so another site cannot log a
    browser in with its own key or out of its session. A client that sends neither (curl) is let by."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def refuse_other_sites(request: Request) -> None:
    if not from_this_site(request):
        raise Problem("this form may only be posted from the console's own pages", status=403, slug="csrf")


@router.post("/login", response_class=HTMLResponse)
async def console_login(request: Request, key: str = Form(""), next: str = Form("/console")) -> Response:
    target = local_next(next)
    if not keys_configured(request):
        return RedirectResponse(target, status_code=303)
    refuse_other_sites(request)
    if not key or key_access(key, request.app.state.settings) is None:
        return page(request, "login.html", status_code=401, title="Log in", next=target, error="That key is not valid.")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(value=key, **cookie_options(request))
    return response


@router.post("/logout")
async def console_logout(request: Request) -> Response:
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not keys_configured(request):
        return RedirectResponse("/console", status_code=303)
    refuse_other_sites(request)
    response = RedirectResponse("/console/login", status_code=303)
    # Without a valid session there is nothing to end (and no cookie is touched); with one, only its
    # own form may end it.
    if request_access(request) is None:
        return response
    if not csrf_matches(request, token if isinstance(token, str) else None):
        raise Problem("the form carries no valid CSRF token", status=403, slug="csrf")
    response.delete_cookie(**cookie_options(request))
    return response


# --- overview --------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def console_overview(request: Request, database: DatabaseDep) -> HTMLResponse:
    stats = await job_stats(database)
    return page(request, "overview.html", title="Overview", stats=stats, statuses=STATUSES)


# --- jobs ------------------------------------------------------------------------------------------


@router.get("/jobs", response_class=HTMLResponse)
async def console_jobs(request: Request, database: DatabaseDep) -> HTMLResponse:
    """The job list: the form's filter, run by `search_jobs` exactly as `GET /jobs` runs it (through
    its shared look: many people opening one list cost one look per replica per second); the page then
    polls `GET /jobs?live=true` with the same filter and cursor (`api_url`)."""
    form = read_list_form(request.query_params)
    result = None
    if not form.errors:
        try:
            result = await search_jobs_shared(database, form.job_filter(), form.limit, form.cursor)
        except Problem as problem:
            form.errors.append(problem.detail)
    return page(
        request,
        "jobs.html",
        status_code=422 if form.errors else 200,
        title="Jobs",
        kinds=KINDS,
        statuses=STATUSES,
        priorities=PRIORITIES,
        page_sizes=PAGE_SIZES,
        **list_context(form, result),
    )


WORK_ORDER_SHOWN = 100_000  # characters: an import of many thousand highlights would drown the page


def pretty(value: Any, most: int = WORK_ORDER_SHOWN) -> tuple[str, bool]:
    """Indented JSON, cut after `most` characters; whether it was cut."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return (text[:most], True) if len(text) > most else (text, False)


def detail_context(job: Job) -> dict[str, Any]:
    """What the job page shows, from the stored job (the same document `GET /spark/{id}` reads)."""
    base = "/spark" if job.kind == "export" else "/spark/import"
    manifest = job.result.get("manifest") if job.kind == "export" else None
    artifacts = [
        {**artifact, "href": f"/spark/{quote(job.id)}/artifacts/{quote(str(artifact.get('path', '')))}"}
        for artifact in (manifest or {}).get("artifacts", [])
    ]
    package = job.result.get("package") if job.kind == "export" else None
    work_order, cut = pretty(job.payload)
    runs = [
        {**run, "traceback_tail": "\n".join(str(run.get("traceback") or "").splitlines()[-15:])} for run in job.runs
    ]
    return {
        "job": job,
        "kind": job.kind,
        "status": job.status.value,
        "finished": job.status in FINISHED,
        "payload": work_order,
        "payload_cut": cut,
        "asset": (job.payload.get("inputs") or {}).get("full_path")
        if job.kind == "export"
        else (job.payload.get("asset") or {}).get("fullPath"),
        "runs": runs,
        "retries": job.retries,
        "errors": job.errors,
        "manifest": manifest,
        "manifest_rest": pretty({key: value for key, value in (manifest or {}).items() if key != "artifacts"})[0],
        "artifacts": artifacts,
        "package_href": f"/spark/{quote(job.id)}/package" if package else None,
        "package": package,
        "viewer_href": f"/console/spark/{quote(job.id)}"
        if job.kind == "export" and job.status.value in ("completed", "partially_completed")
        else None,
        "batches": job.result.get("batches", []) if job.kind == "import" else [],
        "counts": {name: job.result.get(name) for name in ("items_total", "items_created", "items_failed")}
        if job.kind == "import"
        else {},
        "api": {
            "job": f"{base}/{job.id}",
            "status": f"{base}/{job.id}/status",
            "cancel": f"/spark/{job.id}/cancel" if job.kind == "export" else None,
            "retry": f"{base}/{job.id}/retry",
            "priority": f"{base}/{job.id}",
        },
        "can_cancel": job.kind == "export" and job.status in (JobStatus.pending, JobStatus.processing),
        "can_retry": job.status.value in RETRYABLE,
        "can_prioritize": job.status == JobStatus.pending,
        "priorities": PRIORITIES,
    }


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def console_job_by_id(request: Request, job_id: str, database: DatabaseDep) -> Response:
    """A job by its id alone (pasted from a log, say): its page, whichever kind it is."""
    for kind in KINDS:
        if await load_job(database, kind, job_id) is not None:
            return RedirectResponse(job_link(kind, job_id.lower()), status_code=303)
    return not_found(request, f"There is no job with id {job_id}.")


@router.get("/jobs/{kind}/{job_id}", response_class=HTMLResponse)
async def console_job(request: Request, kind: str, job_id: str, database: DatabaseDep) -> HTMLResponse:
    job = await load_job(database, kind, job_id) if kind in KINDS else None
    if job is None:
        return not_found(request, f"There is no {kind} job with id {job_id}.")
    noun = "Export" if kind == "export" else "Import"
    return page(request, "job.html", title=f"{noun} {job.id}", **detail_context(job))


# --- replicas --------------------------------------------------------------------------------------


@router.get("/replicas", response_class=HTMLResponse)
async def console_replicas(request: Request, database: DatabaseDep) -> HTMLResponse:
    settings = request.app.state.settings
    replicas = await list_replicas(database, settings.lease_seconds)
    return page(request, "replicas.html", title="Replicas", replicas=replicas, lease_seconds=settings.lease_seconds)


# --- static files ----------------------------------------------------------------------------------


@router.get("/static/{name}")
async def console_static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise Problem(f"no console file {name!r}", status=404, slug="not-found")
    return found
