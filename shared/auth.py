"""API keys (SPEC §3): with `API_KEYS` set, every request but `/health` needs `X-API-Key`.

Keys are compared in constant time, against every configured key (no early exit that would tell
which one came close), and never logged. `/docs` and `/openapi.json` stay open so the API can be
read and tried (Swagger's Authorize button takes the key); they hold no data.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.problems import Problem, problem_response

HEADER = b"x-api-key"
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})


def key_matches(candidate: bytes, keys: Sequence[bytes]) -> bool:
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key)
    return matched


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: Sequence[SecretStr]) -> None:
        self.app = app
        self.keys = [key.get_secret_value().encode() for key in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        candidate = next((value for name, value in scope["headers"] if name == HEADER), None)
        if candidate is not None and key_matches(candidate, self.keys):
            await self.app(scope, receive, send)
            return
        detail = "X-API-Key is missing" if candidate is None else "X-API-Key is not valid"
        problem = Problem(
            detail, status=401, slug="unauthorized", headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
        )
        await problem_response(problem, scope["path"])(scope, receive, send)


def document_api_keys(app: FastAPI) -> None:
    """Describe `X-API-Key` in the OpenAPI schema when keys are on: every operation but the open
    paths needs it, and Swagger's Authorize button takes it."""
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
            "description": "one of the keys in API_KEYS",
        }
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                operation["security"] = [] if path in OPEN_PATHS else [{"ApiKey": []}]
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
