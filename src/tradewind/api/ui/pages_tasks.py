"""A task instance: its page, the log of each try (followed while it runs), clear and mark."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.api.ui import actions, models_structure, models_task_instances
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.pages_dag import dag_page
from tradewind.api.ui.pages_dags import dag_url
from tradewind.api.ui.routing import UIRoute
from tradewind.exceptions import InvalidStateTransition, TradewindError
from tradewind.sdk import timezone
from tradewind.services import clearing, task_instances, task_logs

router = APIRouter(route_class=UIRoute, include_in_schema=False)

#: First read of a log in the page; the script asks for the rest.
FIRST_READ = 1024 * 1024


def ti_url(dag_id: str, run_id: str, task_id: str, map_index: int = -1, **params: object) -> str:
    url = dag_url(dag_id, "runs", run_id, "tasks", task_id)
    query = [f"{key}={value}" for key, value in params.items() if value is not None]
    if map_index >= 0:
        query.insert(0, f"map_index={map_index}")
    return url + ("?" + "&".join(query) if query else "")


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}")
def task_page(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int = -1,
    try_number: int | None = None,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    ti = models_task_instances.task_instance(session, dag_id, run_id, task_id, map_index)
    shape = models_structure.shape_for_run(session, dag_id, run_id)
    task = shape.tasks.get(task_id)
    chosen = (
        try_number if try_number is not None else (ti.tries[-1].try_number if ti.tries else None)
    )
    log = None
    if chosen is not None:
        over = not (chosen == ti.try_number and ti.state in task_instances.UNFINISHED_TRY_STATES)
        path = task_logs.log_path(
            request.app.state.settings.log_folder, dag_id, run_id, task_id, ti.map_index, chosen
        )
        log = task_logs.read(path, offset=0, try_over=over, max_bytes=FIRST_READ)
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "task",
        "task_instance.html",
        {
            "ti": ti,
            "task": task,
            "shape": shape,
            "try_number": chosen,
            "log": log,
            "ti_url": ti_url,
        },
    )


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log.json")
def log_json(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    map_index: int = -1,
    offset: int = 0,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    ti = task_instances.get(session, dag_id, run_id, task_id, map_index)
    over = task_instances.try_is_over(ti, try_number)
    path = task_logs.log_path(
        request.app.state.settings.log_folder, dag_id, run_id, task_id, map_index, try_number
    )
    chunk = task_logs.read(path, offset=offset, try_over=over)
    return JSONResponse(
        {
            "text": chunk.text,
            "offset": chunk.next_offset,
            "end_of_log": chunk.end_of_log,
            "exists": chunk.exists,
            "state": ti.state,
            "try_number": ti.try_number,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/log.txt")
def log_text(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    map_index: int = -1,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    task_instances.get(session, dag_id, run_id, task_id, map_index)
    path = task_logs.log_path(
        request.app.state.settings.log_folder, dag_id, run_id, task_id, map_index, try_number
    )
    if not path.is_file():
        return PlainTextResponse(
            f"*** No log file for try {try_number} of {task_id} (looked at {path})\n",
            status_code=404,
        )
    return FileResponse(
        path,
        media_type="text/plain; charset=utf-8",
        filename=f"{dag_id}__{run_id}__{task_id}__{map_index}__{try_number}.log".replace(":", "-"),
        content_disposition_type="inline",
    )


def _task_action(
    request: Request,
    user: CurrentUser,
    form: FormData,
    dag_id: str,
    run_id: str,
    task_id: str,
    event: str,
    change: Callable[[Session], Sequence[object]],
    done: str,
) -> Response:
    map_index = int(actions.field(form, "map_index", "-1") or -1)
    back_to = ti_url(dag_id, run_id, task_id, map_index)
    try:
        changed = actions.apply(
            request,
            user,
            event,
            change,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index if map_index >= 0 else None,
            wake=True,
        )
    except TradewindError as exc:
        return actions.outcome(request, form, back_to, error=exc)
    count = len(changed)
    return actions.outcome(
        request,
        form,
        back_to,
        ok=f"{done} {count} task instance{'s' if count != 1 else ''}.",
        data={"changed": count},
    )


@router.post("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/clear")
def clear_task(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    raw_index = int(actions.field(form, "map_index", "-1") or -1)
    wanted = clearing.ClearRequest(
        run_id=run_id,
        tasks=[clearing.TaskSelector(task_id, raw_index if raw_index >= 0 else None)],
        only_failed=actions.field(form, "only_failed") in {"true", "on", "1"},
        include_downstream=actions.field(form, "downstream") in {"true", "on", "1"},
        include_upstream=actions.field(form, "upstream") in {"true", "on", "1"},
    )
    return _task_action(
        request,
        user,
        form,
        dag_id,
        run_id,
        task_id,
        "clear",
        lambda s: clearing.clear(s, dag_id, wanted, dry_run=False, now=timezone.utcnow()),
        "Cleared",
    )


@router.post("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mark")
def mark_task(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    state = actions.field(form, "state")
    raw_index = int(actions.field(form, "map_index", "-1") or -1)
    if state not in {"success", "failed"}:
        return actions.outcome(
            request,
            form,
            ti_url(dag_id, run_id, task_id, raw_index),
            error=InvalidStateTransition(f"cannot mark a task {state!r}: use success or failed"),
        )
    return _task_action(
        request,
        user,
        form,
        dag_id,
        run_id,
        task_id,
        f"mark_task_{state}",
        lambda s: task_instances.set_state(
            s,
            dag_id,
            run_id,
            task_id,
            state,
            map_index=raw_index if raw_index >= 0 else None,
            downstream=actions.field(form, "downstream") in {"true", "on", "1"},
            now=timezone.utcnow(),
        ),
        f"Marked {state}:",
    )
