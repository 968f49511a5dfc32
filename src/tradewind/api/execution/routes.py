"""``/execution/``: the calls a remote worker makes for one try (``docs/remote-execution.md``).

Each call is one short transaction through ``services.remote_tries`` (and
``services.remote_try_files``); the answers and status codes are the wire contract the
Celery worker codes against.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from tradewind import wakeup
from tradewind.api.execution import auth
from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.remote import tokens
from tradewind.remote.tokens import TryClaims
from tradewind.runner import messages
from tradewind.services import remote_tries, remote_try_files
from tradewind.services.task_requests import TaskRequestHandler

PREFIX = "/execution"
TOKEN_HEADER = "Refreshed-API-Token"
BUNDLE_HASH_HEADER = "X-Tradewind-Bundle-Hash"

router = APIRouter(prefix=PREFIX, include_in_schema=False, tags=["Execution"])

QueuedOrExecution = Annotated[TryClaims, Depends(auth.try_claims(tokens.QUEUED, tokens.EXECUTION))]
Execution = Annotated[TryClaims, Depends(auth.try_claims(tokens.EXECUTION))]


class WhereRunning(BaseModel):
    """Where the try runs: the worker's host and the try's process."""

    hostname: str = Field(min_length=1, max_length=1000)
    pid: int = Field(ge=0, le=2**31 - 1)


class TryEnd(BaseModel):
    """``{"kind": "finished", "done": <TaskDone fields>}`` or ``{"kind": "died", "reason"}``."""

    kind: str
    done: dict[str, Any] | None = None
    reason: str | None = None


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _in_transaction(request: Request, fn: Any, *, readonly: bool = False) -> Any:
    return db_engine.run_in_transaction(request.app.state.engine, fn, readonly=readonly)


@router.get("/health", dependencies=[Depends(auth.require_secret)])
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/task-instances/{ti_id}/start")
def start(
    ti_id: int, body: WhereRunning, claims: QueuedOrExecution, request: Request
) -> dict[str, Any]:
    """Accept the try (409 if it is not queued for this try, or was started already)."""
    settings = _settings(request)
    started = _in_transaction(
        request,
        lambda session: remote_tries.start(
            session, claims, hostname=body.hostname, pid=body.pid, home=settings.home
        ),
    )
    return {"token": auth.execution_token(settings, claims), "try_number": started.try_number}


@router.post("/task-instances/{ti_id}/heartbeat")
def heartbeat(
    ti_id: int, body: WhereRunning, claims: Execution, request: Request, response: Response
) -> dict[str, Any]:
    """The try is alive; the answer renews its token (409: it no longer runs, terminate it)."""
    _in_transaction(
        request,
        lambda session: remote_tries.heartbeat(
            session, claims, hostname=body.hostname, pid=body.pid
        ),
    )
    response.headers[TOKEN_HEADER] = auth.execution_token(_settings(request), claims)
    return {"ok": True}


@router.post("/task-instances/{ti_id}/requests")
def answer_request(
    ti_id: int,
    fields: Annotated[dict[str, Any], Body()],
    claims: Execution,
    request: Request,
) -> dict[str, Any]:
    """A question of the running try, answered as a local try's (``TaskRequestHandler``)."""
    try:
        messages.request_from_fields(fields)
    except ValueError as exc:
        raise HTTPException(
            status_code=400,
            detail=f"{exc}; the requests are: {', '.join(sorted(messages.REQUESTS))}",
        ) from None
    _in_transaction(
        request,
        lambda session: remote_tries.require_running(session, claims),
        readonly=True,
    )
    return _request_handler(request)(fields)


@router.post("/task-instances/{ti_id}/logs")
async def write_log(
    ti_id: int,
    claims: Execution,
    request: Request,
    offset: Annotated[int, Query(ge=0)],
) -> dict[str, int]:
    """Store the raw bytes of the body at byte ``offset`` of the try's log."""
    data = await request.body()
    settings = _settings(request)

    def store() -> int:
        _in_transaction(
            request,
            lambda session: remote_try_files.require_current_try(session, claims),
            readonly=True,
        )
        return remote_try_files.write_log_chunk(settings.log_folder, claims, offset, data)

    return {"size": await run_in_threadpool(store)}


@router.post("/task-instances/{ti_id}/finish")
def finish(ti_id: int, body: TryEnd, claims: Execution, request: Request) -> dict[str, bool]:
    """Record how the try ended (a repeat of a recorded end is answered OK)."""
    home = _settings(request).home
    _in_transaction(
        request,
        lambda session: remote_tries.finish(
            session, claims, kind=body.kind, done=body.done, reason=body.reason, home=home
        ),
    )
    return {"ok": True}


@router.get("/task-instances/{ti_id}/bundle")
def bundle(ti_id: int, claims: QueuedOrExecution, request: Request) -> Response:
    """The zip of the files the try's DAG version imports, with its SHA-256 in a header."""
    found: remote_try_files.Bundle = _in_transaction(
        request, lambda session: remote_try_files.bundle_of(session, claims), readonly=True
    )
    return Response(
        found.content, media_type="application/zip", headers={BUNDLE_HASH_HEADER: found.hash}
    )


def _request_handler(request: Request) -> TaskRequestHandler:
    """One handler per app, as the local executor keeps one per scheduler."""
    state = request.app.state
    handler: TaskRequestHandler | None = getattr(state, "tradewind_execution_requests", None)
    if handler is None:
        home = state.settings.home
        handler = TaskRequestHandler(
            state.engine, state.settings, on_runs_changed=lambda: wakeup.notify(home)
        )
        state.tradewind_execution_requests = handler
    return handler
