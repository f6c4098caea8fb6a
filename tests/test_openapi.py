"""The OpenAPI document of the whole app, checked operation by operation, so a generated client can type
every answer: routes added later are checked as soon as they are in `main.FEATURE_ROUTERS`.

- every 4xx/5xx answer is `application/problem+json` with the `ProblemDetails` schema and nothing else
  (the health document's 503 is the one deliberate exception, see docs/decisions.md);
- no operation mentions FastAPI's `HTTPValidationError`, which this service never sends;
- an operation that reads only path ids declares no 422 (a bad id is a 404);
- every 2xx `application/json` body is a named model whose properties are typed all the way down (no
  free-form objects), unless the response is a download (bytes under its other content types, where
  a JSON file is any JSON); every other 2xx content type is bytes or text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from main import create_app
from shared.problems import PROBLEM_JSON
from shared.settings import load_settings

PROBLEM_REF = "#/components/schemas/ProblemDetails"
NOT_PROBLEMS = {("GET", "/health", "503")}
# Maps whose values differ by key on purpose (each health check reports its own details).
FREE_FORM_ALLOWED = {("CheckResult", "details")}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(load_settings(_env_file=None, environment="test"))


@pytest.fixture(scope="module")
def schema(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_every_route_of_the_app_is_in_the_document(app: FastAPI, schema: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in operations(schema)}
    routes = [route for route in api_routes(app.routes) if route.include_in_schema]
    assert len(routes) > 10
    for route in routes:
        for method in route.methods:
            assert (method, route.path_format) in documented, f"{method} {route.path_format} is not documented"


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every endpoint, inside included routers too (FastAPI keeps those as wrappers in `app.routes`)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None) or getattr(route, "routes", None)
        if included is not None:
            yield from api_routes(getattr(included, "routes", included))


def test_every_problem_status_carries_the_problem_schema(schema: dict[str, Any]) -> None:
    checked = 0
    for method, path, operation in operations(schema):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")) or (method, path, status) in NOT_PROBLEMS:
                continue
            content = response.get("content", {})
            assert list(content) == [PROBLEM_JSON], f"{method} {path} {status}: content types {list(content)}"
            assert content[PROBLEM_JSON].get("schema") == {"$ref": PROBLEM_REF}, f"{method} {path} {status}"
            checked += 1
    assert checked > 20
    assert "ProblemDetails" in schema["components"]["schemas"]


def test_no_operation_mentions_fastapi_validation_errors(schema: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(schema)
    for method, path, operation in operations(schema):
        reads_only_path = "requestBody" not in operation and all(
            parameter["in"] == "path" for parameter in operation.get("parameters", [])
        )
        if reads_only_path:
            assert "422" not in operation["responses"], f"{method} {path} declares a 422 it cannot answer"


def test_every_success_body_is_typed(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for method, path, operation in operations(schema):
        successes = {status: r for status, r in operation["responses"].items() if status.startswith("2")}
        assert successes, f"{method} {path} declares no success"
        for status, response in successes.items():
            content = response.get("content", {})
            assert content, f"{method} {path} {status} declares no body"
            download = any(body.get("schema", {}).get("format") == "binary" for body in content.values())
            for media_type, body in content.items():
                body_schema = body.get("schema")
                assert body_schema, f"{method} {path} {status} {media_type} has no schema"
                if media_type == "application/json" and not download:
                    assert "$ref" in body_schema, f"{method} {path} {status}: the JSON body is not a named model"
                    problems = list(free_form_objects(body_schema["$ref"], components, set()))
                    assert not problems, f"{method} {path} {status}: untyped parts {problems}"
                elif media_type != "application/json":
                    assert body_schema.get("type") == "string", f"{method} {path} {status} {media_type}"


def free_form_objects(ref: str, components: dict[str, Any], seen: set[str]) -> Iterator[str]:
    """`Model.field` for every property (followed through references) that is an untyped object or Any."""
    name = ref.rsplit("/", 1)[-1]
    if name in seen:
        return
    seen.add(name)
    model = components[name]
    for field, field_schema in model.get("properties", {}).items():
        if (name, field) in FREE_FORM_ALLOWED:
            continue
        for part in schema_parts(field_schema):
            if "$ref" in part:
                yield from free_form_objects(part["$ref"], components, seen)
            elif is_free_form(part):
                yield f"{name}.{field}"


def schema_parts(field_schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The alternatives a property can take, and what its arrays and maps hold."""
    alternatives = field_schema.get("anyOf") or field_schema.get("allOf") or field_schema.get("oneOf")
    if alternatives:
        for alternative in alternatives:
            yield from schema_parts(alternative)
        return
    yield field_schema
    if isinstance(field_schema.get("items"), dict):
        yield from schema_parts(field_schema["items"])
    if isinstance(field_schema.get("additionalProperties"), dict):
        yield from schema_parts(field_schema["additionalProperties"])


def is_free_form(part: dict[str, Any]) -> bool:
    if not part:
        return True  # `Any`
    if part.get("type") != "object":
        return False
    values = part.get("additionalProperties")
    return "properties" not in part and not (isinstance(values, dict) and values)
