"""Pages end their read transaction when the handler returns, not after the response was sent."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from tradewind.api.ui import session as ui_session


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers (kept apart since FastAPI 0.16x)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependants(sub)


def test_every_page_read_session_is_function_scoped(app: FastAPI) -> None:
    """A request-scoped session would hold its transaction (a pool connection on PostgreSQL)
    while a slow client downloads a task log."""
    checked, request_scoped = 0, []
    for route in _api_routes(app.routes):
        for dependant in _dependants(route.dependant):
            if dependant.call is ui_session.read_session:
                checked += 1
                if dependant.scope != "function":
                    request_scoped.append(route.path)
    assert checked > 20
    assert request_scoped == []
