"""The execution API: what remote workers call for the tries they run (``/execution/``).

Kept out of the public ``/api/v2`` OpenAPI document: it is a contract with Tradewind's own
workers (``docs/remote-execution.md``), not with users.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tradewind.api.execution import routes
from tradewind.services import remote_tries, remote_try_files

#: The execution API's refusals, by status (checked in order: subclasses first).
STATUS_BY_ERROR: list[tuple[type[remote_tries.RemoteTryError], int]] = [
    (remote_try_files.BundleNotFound, 404),
    (remote_tries.TryConflict, 409),
    (remote_tries.InvalidTryReport, 400),
]


def status_for(error: remote_tries.RemoteTryError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 400


def install(app: FastAPI) -> None:
    """Serve the execution API on ``app``, its refusals in the API's error shape."""

    @app.exception_handler(remote_tries.RemoteTryError)
    async def on_refused(request: Request, error: remote_tries.RemoteTryError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=status_for(error))

    app.include_router(routes.router)
