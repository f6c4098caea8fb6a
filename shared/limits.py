"""`MAX_REQUEST_BYTES`, enforced while the body streams in (SPEC §3).

A declared `Content-Length` over the limit is answered 413 before a byte of the body is read; a
body without one (chunked) is counted as it arrives and stopped at the limit. Either way nothing is
read into memory whole, and JSON and multipart bodies are treated alike.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import Problem, problem_response


class BodyTooLarge(HTTPException):
    """Raised from inside `receive`; an HTTPException, so FastAPI's body parsing lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than MAX_REQUEST_BYTES ({limit} bytes)")


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            problem = Problem(BodyTooLarge(self.max_bytes).detail, status=413, slug="payload-too-large")
            await problem_response(problem, scope["path"])(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        return counted


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
