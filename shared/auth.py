"""API keys and the console's session (SPEC §3, §10).

With `API_KEYS` (or `API_READ_KEYS`) set, every request but the open paths needs a key: the
`X-API-Key` header, or the console's session cookie, which holds the key itself (HttpOnly,
SameSite=Strict, Secure over HTTPS; docs/decisions.md says why no server-side session). Keys are
compared in constant time against every configured key (no early exit that would tell which one came
close) and are never logged or returned. `/docs` and `/openapi.json` stay open so the API can be read
and tried (Swagger's Authorize button takes the key); they hold no data.

- A read key (`API_READ_KEYS`) may GET and HEAD whatever a full key may; any other method is a 403
  (`read-only-key`), except the console's login and logout posts.
- A request authenticated by the cookie that changes something (POST, PATCH, PUT, DELETE) must carry
  `X-CSRF-Token: csrf_token(key)`, or it is a 403 (`csrf`). The token is an HMAC of a fixed label keyed
  with the key: stateless (the same on every replica), and it reveals nothing of the key.
  `/console/logout` is checked by its handler instead (the form field `csrf_token`, `csrf_matches`).
- Without a key a console page (GET or HEAD under `/console`) answers 303 to the login page with
  `next=` the page; everything else is a 401 problem. `/console/login` and `/console/static/...` are
  open.
- Without any key configured everything is open (`Access.open`), like the API in development.

The outcome is kept in the ASGI scope's state: handlers read it with `request_access` and
`request_csrf_token`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from pydantic import SecretStr
from starlette.requests import cookie_parser
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.problems import PROBLEM_SCHEMA_REF, Problem, problem_response
from shared.settings import Settings

HEADER = b"x-api-key"
SESSION_COOKIE = "ai_spark_key"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
CONSOLE_PREFIX = "/console"
LOGIN_PATH = "/console/login"
LOGOUT_PATH = "/console/logout"
CONSOLE_STATIC_PREFIX = "/console/static/"
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
# Paths any request reaches, with or without a key (their handlers look at `request_access`).
CONSOLE_OPEN_PATHS = frozenset({LOGIN_PATH, LOGOUT_PATH})
SAFE_METHODS = frozenset({"GET", "HEAD"})
UNSAFE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_CSRF_LABEL = b"ai-spark console csrf token v1"
_STATE_ACCESS = "ai_spark_access"
_STATE_CSRF = "ai_spark_csrf_token"
_CSRF_HEADER_BYTES = CSRF_HEADER.encode()


class Access(StrEnum):
    """What a request may do: `open` (no keys configured), `full` (an API key), `read` (a read key)."""

    open = "open"
    full = "full"
    read = "read"


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys, as bytes ready to compare."""

    full: tuple[bytes, ...] = ()
    read: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, full: Sequence[SecretStr], read: Sequence[SecretStr] = ()) -> ApiKeys:
        return cls(
            full=tuple(key.get_secret_value().encode() for key in full),
            read=tuple(key.get_secret_value().encode() for key in read),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeys:
        return cls.of(settings.api_keys, settings.api_read_keys)

    @property
    def configured(self) -> bool:
        return bool(self.full or self.read)


def key_matches(candidate: bytes, keys: Sequence[bytes]) -> bool:
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key)
    return matched


def key_access(candidate: str | bytes, keys: Settings | ApiKeys) -> Access | None:
    """What `candidate` may do: `full` for an API key, `read` for a read key, `open` when no key is
    configured at all, None for anything else. Compared in constant time against every key."""
    known = ApiKeys.from_settings(keys) if isinstance(keys, Settings) else keys
    if not known.configured:
        return Access.open
    raw = candidate.encode() if isinstance(candidate, str) else candidate
    full = key_matches(raw, known.full)
    read = key_matches(raw, known.read)  # always both lists: the time says nothing of the kind
    if full:
        return Access.full
    return Access.read if read else None


def csrf_token(key: str) -> str:
    """The console's CSRF token for a session holding `key`: an HMAC-SHA256 of a fixed label keyed with
    the key. The same on every replica and across restarts; it cannot be turned back into the key."""
    return _csrf_of(key.encode())


def _csrf_of(key: bytes) -> str:
    return hmac.new(key, _CSRF_LABEL, hashlib.sha256).hexdigest()


def request_access(request: Request) -> Access | None:
    """What this request may do, as the middleware found. None only on the paths open to anyone (the
    login and logout pages, `/health`, the docs) when the request carries no valid key."""
    value = request.scope.get("state", {}).get(_STATE_ACCESS)
    return Access(value) if value is not None else None


def request_csrf_token(request: Request) -> str | None:
    """The CSRF token that actions of this request's session must carry; None when no key is configured
    or the request was authenticated by the `X-API-Key` header (no cookie, so no CSRF to fear)."""
    return request.scope.get("state", {}).get(_STATE_CSRF)


def csrf_matches(request: Request, token: str | None) -> bool:
    """Whether `token` (from a form's `csrf_token` field, say) is this session's CSRF token. True when
    the request needs none (no keys configured, or authenticated by the header); False when the request
    is not authenticated at all."""
    access = request_access(request)
    if access is None:
        return False
    expected = request_csrf_token(request)
    if expected is None:
        return True
    return token is not None and hmac.compare_digest(token.encode(), expected.encode())


def session_cookie_options(request: Request, always_secure: bool = False) -> dict[str, Any]:
    """Keyword arguments for `response.set_cookie(value=key, **...)` (and `delete_cookie(**...)`): the
    session cookie, for every path (the console's pages call the API with it), HttpOnly,
    SameSite=Strict, and Secure over HTTPS (always, with `always_secure`). No expiry: it ends with the browser."""
    return {
        "key": SESSION_COOKIE,
        "path": "/",
        "httponly": True,
        "samesite": "strict",
        # `always_secure` in production: behind a proxy whose `X-Forwarded-Proto` uvicorn does not
        # trust (its FORWARDED_ALLOW_IPS), the request reads as http although the browser spoke https.
        "secure": always_secure or request.url.scheme == "https",
    }


def safe_next_path(value: str | None) -> str:
    """The `next=` of a login, if it is a console path of this site; else the console's front page (a
    login must never send the browser to another site)."""
    if not value or not value.startswith(CONSOLE_PREFIX) or "\\" in value:
        return CONSOLE_PREFIX
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not _is_console_path(parts.path):
        return CONSOLE_PREFIX
    return value


def _is_console_path(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


@dataclass(frozen=True)
class _Credentials:
    key: bytes | None
    by_cookie: bool


def _credentials(scope: Scope) -> _Credentials:
    cookie_header = None
    for name, value in scope["headers"]:
        if name == HEADER:
            return _Credentials(value, by_cookie=False)
        if name == b"cookie":
            cookie_header = value
    if cookie_header is not None:
        cookie = cookie_parser(cookie_header.decode("latin-1")).get(SESSION_COOKIE)
        if cookie:
            return _Credentials(cookie.encode("latin-1"), by_cookie=True)
    return _Credentials(None, by_cookie=False)


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    return next((value for name, value in scope["headers"] if name == wanted), None)


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: Sequence[SecretStr], read_keys: Sequence[SecretStr] = ()) -> None:
        self.app = app
        self.keys = ApiKeys.of(keys, read_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.keys.configured:
            state[_STATE_ACCESS], state[_STATE_CSRF] = Access.open, None
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        credentials = _credentials(scope)
        access = key_access(credentials.key, self.keys) if credentials.key is not None else None
        if access is not None:
            state[_STATE_ACCESS] = access
            state[_STATE_CSRF] = _csrf_of(credentials.key) if credentials.by_cookie else None
        if path in OPEN_PATHS or path in CONSOLE_OPEN_PATHS or path.startswith(CONSOLE_STATIC_PREFIX):
            await self.app(scope, receive, send)
            return
        if access is None:
            await self._refuse_unauthenticated(scope, receive, send, credentials)
            return
        problem = self._refusal(scope, access, credentials, state.get(_STATE_CSRF))
        if problem is not None:
            await problem_response(problem, path)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope, access: Access, credentials: _Credentials, expected: str | None) -> Problem | None:
        method = scope["method"]
        if credentials.by_cookie and method in UNSAFE_METHODS:
            sent = _header(scope, _CSRF_HEADER_BYTES)
            if sent is None or expected is None or not hmac.compare_digest(sent, expected.encode()):
                return Problem("this action needs the console's X-CSRF-Token header", status=403, slug="csrf")
        if access is Access.read and method not in SAFE_METHODS:
            return Problem(
                "this key may read but not change anything (API_READ_KEYS)",
                status=403,
                slug="read-only-key",
            )
        return None

    @staticmethod
    async def _refuse_unauthenticated(scope: Scope, receive: Receive, send: Send, credentials: _Credentials) -> None:
        path = scope["path"]
        if _is_console_path(path) and scope["method"] in SAFE_METHODS:
            page = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
            redirect = RedirectResponse(f"{LOGIN_PATH}?next={quote(page, safe='')}", status_code=303)
            await redirect(scope, receive, send)
            return
        if credentials.key is None:
            detail = "X-API-Key is missing"
        elif credentials.by_cookie:
            detail = "the console session's key is not valid; log in again"
        else:
            detail = "X-API-Key is not valid"
        problem = Problem(
            detail, status=401, slug="unauthorized", headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
        )
        await problem_response(problem, path)(scope, receive, send)


def document_api_keys(app: FastAPI) -> None:
    """Describe `X-API-Key` in the OpenAPI schema when keys are on: every operation but the open
    paths needs it, and Swagger's Authorize button takes it. Operations that change something also
    declare the 403 a read key gets."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_schema()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["ApiKey"] = {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "one of the keys in API_KEYS (or, for GET and HEAD only, API_READ_KEYS)",
        }
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                operation["security"] = [] if path in OPEN_PATHS else [{"ApiKey": []}]
                if path not in OPEN_PATHS and method.upper() not in SAFE_METHODS:
                    operation.setdefault("responses", {}).setdefault(
                        "403",
                        {
                            "description": "Forbidden (a read-only key)",
                            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA_REF}},
                        },
                    )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
