"""The web UI: server-rendered pages over the same services as the REST API.

``router`` holds every page; ``static_files()`` serves ``/static``. Pages need a signed-in
user (the session cookie) except the login form; every form is CSRF-protected.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from tradewind.api.ui import (
    pages_admin,
    pages_auth,
    pages_dag,
    pages_dags,
    pages_runs,
    pages_security,
    pages_tasks,
    pages_workers,
)

STATIC_DIR = Path(__file__).parent / "static"

router = APIRouter(include_in_schema=False)
for _module in (
    pages_auth,
    pages_dags,
    pages_dag,
    pages_runs,
    pages_tasks,
    pages_admin,
    pages_security,
    pages_workers,
):
    router.include_router(_module.router)


def static_files() -> StaticFiles:
    return StaticFiles(directory=str(STATIC_DIR))
