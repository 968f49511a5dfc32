"""The ASGI application: REST API, auth and UI, over one metastore engine."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Scope

from tradewind import __version__
from tradewind.api import (
    deps,
    errors,
    middleware,
    openapi_errors,
    routes_auth,
    routes_backfills,
    routes_config,
    routes_connections,
    routes_dag_runs,
    routes_dag_sources,
    routes_dag_versions,
    routes_dags,
    routes_event_logs,
    routes_import_errors,
    routes_monitor,
    routes_pools,
    routes_task_instances,
    routes_task_logs,
    routes_tasks,
    routes_variables,
    routes_workers,
    routes_xcoms,
    ui,
)
from tradewind.api import execution as execution_api
from tradewind.api.security import TokenSigner, secret_key
from tradewind.config import Settings
from tradewind.services import db_admin

SESSION_COOKIE = "tradewind_session"


class TradewindApp(FastAPI):
    """FastAPI whose every response, a server error's included, carries the security headers."""

    def build_middleware_stack(self) -> ASGIApp:
        return middleware.SecurityHeadersMiddleware(super().build_middleware_stack())


def _has_credentials(tokens: TokenSigner) -> Callable[[Scope], bool]:
    """Whether a request names a user the way ``deps.api_user`` reads it: a valid bearer token,
    else a signed-in session. The routes still check that the user exists and may act."""

    def check(scope: Scope) -> bool:
        connection = HTTPConnection(scope)
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return tokens.verify(token.strip()) is not None
        return "session" in scope and isinstance(connection.session.get(deps.SESSION_ID_KEY), str)

    return check


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app. ``engine`` defaults to the metastore named by ``settings``."""
    app = TradewindApp(
        title="Tradewind API",
        version=__version__,
        description="Apache Airflow 3 compatible REST API of Tradewind.",
        openapi_url="/api/v2/openapi.json",
        docs_url="/api/v2/docs",
        redoc_url=None,
    )
    key = secret_key(settings)
    app.state.settings = settings
    app.state.engine = engine if engine is not None else db_admin.open_engine(settings)
    app.state.tokens = TokenSigner(key, int(settings.get("api", "access_token_expiration")))
    # The last added runs first: the session is read,
    # then credentials checked, then the body limited.
    app.add_middleware(
        middleware.BodyLimitMiddleware, max_bytes=int(settings.get("api", "max_body_bytes"))
    )
    app.add_middleware(
        middleware.ApiAuthGateMiddleware, authenticated=_has_credentials(app.state.tokens)
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=key,
        session_cookie=SESSION_COOKIE,
        same_site="lax",
        https_only=False,
        max_age=14 * 24 * 3600,
    )
    errors.install(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_monitor.router)
    # REST API (/api/v2), Airflow 3 compatible.
    for rest in (
        routes_dags,
        routes_dag_sources,
        routes_dag_versions,
        routes_tasks,
        routes_dag_runs,
        routes_task_instances,
        routes_task_logs,
        routes_xcoms,
        routes_variables,
        routes_connections,
        routes_pools,
        routes_import_errors,
        routes_event_logs,
        routes_config,
        routes_workers,
    ):
        app.include_router(rest.router)
    app.include_router(routes_backfills.router)
    execution_api.install(app)
    app.include_router(ui.router)
    app.mount("/static", ui.static_files(), name="static")
    openapi_errors.declare(app)
    return app
