"""`GET /console...` — the web console (SPEC §10): server-rendered pages over the documented API.

The console is a client of the API: every number it shows comes from a documented endpoint or a
`shared/` query those endpoints use too, and every action is a `fetch` to a documented REST endpoint.
It imports no other feature. Pages are HTML (Jinja2, autoescaped); `static/` holds our own CSS and JS.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from features.console.rendering import render, static_file
from shared.problems import Problem

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def console_overview(request: Request) -> HTMLResponse:
    return render(request, "overview.html", title="Overview")


@router.get("/static/{name}")
async def console_static(name: str) -> Response:
    found = static_file(name)
    if found is None:
        raise Problem(f"no console file {name!r}", status=404, slug="not-found")
    return found
