"""The routes an app serves, flattened: for the OpenAPI error answers, ``Allow`` headers and
the checks that walk every operation."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, routing
from fastapi.routing import APIRoute
from starlette.routing import compile_path


def served_routes(app: FastAPI) -> list[Any]:
    """Every route as served (router prefixes included), each with ``path_format`` and
    ``methods`` like a Starlette ``Route``; API routes also have ``name``, ``dependant``,
    ``body_field`` and ``responses`` like an ``APIRoute``."""
    contexts = getattr(
        routing, "iter_route_contexts", None
    )  # newer FastAPI keeps included routers nested
    return list(contexts(app.routes)) if contexts is not None else list(app.routes)


def api_routes(app: FastAPI) -> list[Any]:
    """The routes of the OpenAPI document."""
    return [
        route
        for route in served_routes(app)
        if isinstance(getattr(route, "original_route", route), APIRoute) and route.include_in_schema
    ]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods some route of ``app`` answers at ``path``, sorted (for an ``Allow`` header)."""
    methods: set[str] = set()
    for route in served_routes(app):
        path_format, route_methods = (
            getattr(route, "path_format", None),
            getattr(route, "methods", None),
        )
        if path_format and route_methods and compile_path(path_format)[0].fullmatch(path):
            methods |= set(route_methods)
    return sorted(methods)
