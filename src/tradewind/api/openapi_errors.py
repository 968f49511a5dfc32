"""Error answers in the OpenAPI document, as Airflow declares them.

FastAPI declares only the success answer and 422. Each operation here also declares the
error answers it can give, with Airflow's body (``HTTPExceptionResponse``: ``{"detail": ...}``),
derived from the route itself so a new route cannot forget them:

- 400 for operations that take parameters or a body (a value the service refuses);
- 401 and 403 for routes that need a signed-in user (``deps.api_user``);
- 404 for routes with path parameters (the DAG, run, variable, ... named is not there);
- 409 for signed-in routes that change something (it exists already, or is busy);
- 413 for routes that take a body (over ``[api] max_body_bytes``, or a value over its cap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic import BaseModel

from tradewind.api import deps, route_table

SCHEMA_NAME = "HTTPExceptionResponse"
REF = {"$ref": f"#/components/schemas/{SCHEMA_NAME}"}
DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Content Too Large",
}


class HTTPExceptionResponse(BaseModel):
    """Airflow's body of an error answer."""

    detail: str | dict[str, Any]


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def needs_user(route: Any) -> bool:
    return any(sub.call is deps.api_user for sub in _dependencies(route.dependant))


def error_statuses(route: Any, method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses ``method`` on ``route`` (``operation`` in the document) can answer,
    besides 422."""
    statuses = [400] if operation.get("parameters") or "requestBody" in operation else []
    signed_in = needs_user(route)
    if signed_in:
        statuses += [401, 403]
    if "{" in route.path_format:
        statuses.append(404)
    if signed_in and method != "GET":
        statuses.append(409)
    if route.body_field is not None:
        statuses.append(413)
    return statuses


def _with_errors(document: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[SCHEMA_NAME] = HTTPExceptionResponse.model_json_schema()
    for route in routes:
        operations = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods:
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            declared = {int(code) for code in route.responses if str(code).isdigit()}
            explicit = {code for code in declared if 400 <= code < 500 and code != 422}
            for status in sorted(set(error_statuses(route, method, operation)) | explicit):
                answer = responses.setdefault(
                    str(status), {"description": DESCRIPTIONS.get(status, "Error")}
                )
                answer.setdefault("content", {"application/json": {"schema": REF}})
            operation["responses"] = dict(sorted(responses.items()))
    return document


def declare(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the error answers of every operation."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_errors(build(), route_table.api_routes(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
