"""Domain errors to HTTP responses, in one place. The body is Airflow's: ``{"detail": ...}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tradewind import exceptions as exc
from tradewind.api import route_table
from tradewind.db import engine as db_engine
from tradewind.services import (
    audit,
    backfill,
    clearing,
    dag_metadata,
    dag_runs,
    task_instances,
    users,
    xcoms,
)

log = logging.getLogger("tradewind.api")

STATUS_BY_ERROR: list[tuple[type[BaseException], int]] = [
    (dag_metadata.DagBusy, 409),
    (clearing.ClearConflict, 409),
    (backfill.BackfillFinished, 409),
    (task_instances.StateUnchanged, 409),
    (dag_metadata.DagVersionNotFound, 404),
    (dag_metadata.ImportErrorNotFound, 404),
    (task_instances.TaskInstanceNotFound, 404),
    (xcoms.XComNotFound, 404),
    (audit.EventLogNotFound, 404),
    (users.UserNotFound, 404),
    (dag_runs.InvalidRunRequest, 400),
    (exc.DagNotFound, 404),
    (exc.DagRunNotFound, 404),
    (exc.TaskNotFound, 404),
    (exc.VariableNotFound, 404),
    (exc.ConnectionNotFound, 404),
    (exc.PoolNotFound, 404),
    (exc.AlreadyExists, 409),
    (exc.ValueTooLarge, 413),
    (exc.ParamValidationError, 400),
    (exc.InvalidArgument, 400),
    (exc.InvalidStateTransition, 400),
    (exc.DagDefinitionError, 400),
    (exc.SecretDecryptionError, 500),
    (exc.MetastoreError, 503),
]


def status_for(error: BaseException) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    if type(error).__name__.endswith("NotFound"):
        return 404
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(exc.TradewindError)
    async def on_domain_error(request: Request, error: exc.TradewindError) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, error)
        return JSONResponse({"detail": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "type": e.get("type"),
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg"),
                "input": _safe(e.get("input")),
            }
            for e in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def on_integrity_error(request: Request, error: IntegrityError) -> JSONResponse:
        # Two requests raced to create the same thing; the loser's transaction was rolled back.
        log.warning(
            "%s %s conflicted: %s", request.method, request.url.path, db_engine.error_summary(error)
        )
        return JSONResponse(
            {"detail": f"Conflict: {db_engine.error_summary(error)}"}, status_code=409
        )

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def on_value_out_of_range(request: Request, error: Exception) -> JSONResponse:
        # A number from the request that the database cannot hold (SQLite raises OverflowError).
        reason = db_engine.error_summary(error) if isinstance(error, DataError) else str(error)
        return JSONResponse(
            {"detail": f"A value in the request is out of range: {reason}"}, status_code=400
        )

    @app.exception_handler(OperationalError)
    async def on_database_unavailable(request: Request, error: OperationalError) -> JSONResponse:
        log.error(
            "%s %s failed: %s", request.method, request.url.path, db_engine.error_summary(error)
        )
        return JSONResponse(
            {"detail": f"The metadata database is unavailable: {db_engine.error_summary(error)}"},
            status_code=503,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:
            # Every method of the path, not only those of the first route that matched it.
            headers["Allow"] = ", ".join(route_table.allowed_methods(request.app, request.url.path))
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=headers or None
        )


def _safe(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return repr(value)
