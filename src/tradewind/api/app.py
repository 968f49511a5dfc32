"""The ASGI application: REST API, auth and UI, over one metastore engine."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware

from tradewind import __version__
from tradewind.api import errors, routes_auth, routes_monitor
from tradewind.api.security import TokenSigner, secret_key
from tradewind.config import Settings
from tradewind.services import db_admin

SESSION_COOKIE = "tradewind_session"


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """Build the app. ``engine`` defaults to the metastore named by ``settings``."""
    app = FastAPI(
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
    app.add_middleware(SessionMiddleware, secret_key=key, session_cookie=SESSION_COOKIE, same_site="lax",
                       https_only=False, max_age=14 * 24 * 3600)
    errors.install(app)
    app.include_router(routes_auth.router)
    app.include_router(routes_monitor.router)
    return app
