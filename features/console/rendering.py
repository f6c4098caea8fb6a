"""The console's templates and static files: Jinja2 with autoescape on, files served from this folder only.

Every page extends `templates/base.html`. Autoescaping is on for every template, so a repository
name, prompt or error holding `<script>` is shown as text; nothing here marks a value safe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the request in its context (the base template reads the path and the access)."""
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def static_file(name: str) -> FileResponse | None:
    """A file of `static/` by its bare name (no folders, no dots up, only the listed types), else None."""
    if "/" in name or "\\" in name or name.startswith("."):
        return None
    path = STATIC_DIR / name
    media_type = STATIC_TYPES.get(path.suffix)
    if media_type is None or not path.is_file():
        return None
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})
