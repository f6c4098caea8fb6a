"""RFC 9457 problem details for every error the service answers.

Features raise `Problem` (or a subclass carrying its own status); FastAPI's validation errors, unknown
routes and wrong methods are turned into the same shape here; anything else is a 500 whose detail
says nothing of the internals (the traceback goes to the log only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("ai_spark.problems")
# What a client told "the database cannot be reached" waits before it tries again: about one server
# selection timeout, the time the driver itself gives a restarting server.
DATABASE_RETRY_AFTER_SECONDS = 5


class ProblemError(BaseModel):
    pointer: str = Field(description="JSON pointer to the offending field, e.g. /outputs/events/formats/0")
    message: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = None


class Problem(Exception):
    """An error that leaves as problem+json with a deliberate status."""

    status: int = 400
    slug: str | None = None

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        slug: str | None = None,
        errors: Sequence[ProblemError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status or self.status
        self.title = title or HTTPStatus(self.status).phrase
        self.slug = slug or self.slug
        self.errors = list(errors) if errors else None
        self.headers = headers or {}

    def to_document(self, instance: str | None = None) -> ProblemDetails:
        return ProblemDetails(
            type=problem_type(self.slug),
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
        )


class NotFound(Problem):
    status = 404
    slug = "not-found"


class Conflict(Problem):
    status = 409
    slug = "conflict"


class ValidationProblem(Problem):
    status = 422
    slug = "validation-error"

    def __init__(self, errors: Sequence[ProblemError], detail: str | None = None) -> None:
        count = len(errors)
        summary = detail or f"{count} problem{'s' if count != 1 else ''} in the request"
        super().__init__(summary, errors=errors, title="Request is not valid")


class PayloadTooLarge(Problem):
    status = 413
    slug = "payload-too-large"


class Unauthorized(Problem):
    status = 401
    slug = "unauthorized"


def problem_type(slug: str | None) -> str:
    return f"urn:ai-spark:problem:{slug}" if slug else "about:blank"


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    document = problem.to_document(instance).model_dump(exclude_none=True)
    return JSONResponse(document, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def pointer_from_location(location: Iterable[Any]) -> str:
    """`("body", "outputs", "events", "formats", 0)` → `/outputs/events/formats/0` (RFC 6901)."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    escaped = [str(part).replace("~", "~0").replace("/", "~1") for part in parts]
    return "/" + "/".join(escaped) if escaped else ""


def validation_errors(errors: Iterable[dict[str, Any]]) -> list[ProblemError]:
    problems = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            location = location[:1]  # pydantic puts the character offset here: the pointer is the body
        pointer = pointer_from_location(location)
        if location and location[0] in ("query", "path", "header", "cookie"):
            pointer = f"{location[0]}:{'/'.join(str(p) for p in location[1:])}"
        problems.append(ProblemError(pointer=pointer, message=_readable(error)))
    return problems


def _readable(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if error.get("type") == "json_invalid":
        return f"body is not valid JSON: {error.get('ctx', {}).get('error', message)}"
    return message.removeprefix("Value error, ")


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc, request.url.path)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400:
        # FastAPI and Starlette answer 400 for a body they cannot decode (bytes that are not UTF-8,
        # broken multipart); SPEC §3 makes every invalid input a 422, and this service raises no 400.
        message = f"the body could not be read: {exc.detail}"
        return problem_response(ValidationProblem([ProblemError(pointer="", message=message)]), request.url.path)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).description
    if status == 404 and detail == "Not Found":
        detail = f"no route matches {request.url.path}"
    if status == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    problem = Problem(detail, status=status, slug=HTTPStatus(status).phrase.lower().replace(" ", "-"))
    problem.headers = dict(exc.headers or {})
    return problem_response(problem, request.url.path)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(ValidationProblem(validation_errors(exc.errors())), request.url.path)


async def _on_database_unreachable(request: Request, exc: Exception) -> JSONResponse:
    # The database being down is the operator's condition, not a bug of this request: a 503 the
    # client may retry, and one log line without a traceback (it says nothing the message does not).
    log.warning("database unreachable on %s %s: %s", request.method, request.url.path, exc)
    problem = Problem(
        "the database cannot be reached; try again shortly",
        status=503,
        slug="database-unavailable",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )
    return problem_response(problem, request.url.path)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    problem = Problem("the server failed to handle this request; the error is logged", status=500, slug="internal")
    return problem_response(problem, request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ConnectionFailure, _on_database_unreachable)
    app.add_exception_handler(Exception, _on_unexpected)


PROBLEM_SCHEMA_REF = {"$ref": "#/components/schemas/ProblemDetails"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the problem statuses an endpoint can really answer.

    Each carries the `ProblemDetails` schema under `application/problem+json` only (not a second,
    `application/json` entry), so a generated client parses every problem into one typed model.
    `document_problems` puts the schema into the components.
    """
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA_REF}}}
        for status in statuses
    }


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the service really answers on errors.

    FastAPI adds a 422 `HTTPValidationError` to every operation with a parameter, a shape this service
    never sends (its validation errors are problem documents). Where an operation also reads a query,
    header or body, a 422 can happen and it is kept, as a problem; where it reads only path ids (which
    the routes match by pattern, so a bad id is a 404), there is no 422 at all and it goes.
    """
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_schema()
        for operation in _operations(schema):
            _replace_validation_error(operation)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas.update(_problem_component_schemas())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _operations(schema: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for path_item in schema.get("paths", {}).values():
        yield from (operation for method, operation in path_item.items() if method != "parameters")


def _replace_validation_error(operation: dict[str, Any]) -> None:
    responses = operation.get("responses", {})
    declared = responses.get("422")
    if declared is None or "HTTPValidationError" not in str(declared):
        return
    can_fail = "requestBody" in operation or any(p.get("in") != "path" for p in operation.get("parameters", []))
    if can_fail:
        responses["422"] = problem_responses(422)[422]
    else:
        del responses["422"]


def _problem_component_schemas() -> dict[str, Any]:
    document = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = document.pop("$defs", {})
    return {**nested, "ProblemDetails": document}
