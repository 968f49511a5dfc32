"""DAG runs: the list across DAGs, one run's page, and what can be done to a run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.api.ui import actions, models_runs, models_structure, templating
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.pages_dag import dag_page
from tradewind.api.ui.pages_dags import dag_url
from tradewind.api.ui.routing import UIRoute
from tradewind.exceptions import InvalidStateTransition, TradewindError
from tradewind.sdk import timezone
from tradewind.services import backfill, clearing, dag_runs, paging

router = APIRouter(route_class=UIRoute, include_in_schema=False)

RUN_STATES = ("queued", "running", "success", "failed")
#: Pages past the shown one whose runs are counted; beyond them the list says "more".
COUNT_AHEAD = 20


@router.get("/runs")
def runs_list(
    request: Request,
    state: str = "",
    dag_id: str = "",
    page: int = 1,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    size = 50
    page = max(1, page)
    where = dag_runs.RunFilter(
        states=[state] if state in RUN_STATES else None, dag_id_pattern=dag_id.strip() or None
    )
    # Counted up to a few pages past this one: a count over a long history costs what the
    # history costs, and the pager only needs to know what lies ahead.
    counted = page * size + COUNT_AHEAD * size
    rows, total = dag_runs.list_runs_page(
        session,
        where,
        order_by="-run_after",
        page=paging.Page(limit=size, offset=(page - 1) * size),
        count_up_to=counted,
    )
    more = total > counted
    total = min(total, counted)
    runs = [models_runs.RunListRow.of(row) for row in rows]
    return templating.render(
        request,
        "runs.html",
        {
            "runs": runs,
            "total": total,
            "more": more,
            "page": page,
            "pages": max(1, -(-total // size)),
            "state": state,
            "dag_id": dag_id,
            "states": RUN_STATES,
            "dag_url": dag_url,
            "section": "browse",
        },
    )


@router.get("/backfills")
def backfills_list(
    request: Request,
    dag_id: str = "",
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    backfills = backfill.list_backfills(session, dag_id.strip() or None)
    return templating.render(
        request,
        "backfills.html",
        {
            "backfills": backfills,
            "dag_id": dag_id,
            "dag_url": dag_url,
            "section": "browse",
        },
    )


@router.get("/dags/{dag_id}/runs/{run_id}")
def run_page(
    request: Request,
    dag_id: str,
    run_id: str,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    run = models_runs.run_details(session, dag_id, run_id)
    shape = models_structure.shape_for_run(session, dag_id, run_id)
    tasks = models_runs.run_task_instances(session, dag_id, run_id, list(shape.tasks))
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "run",
        "run.html",
        {"run": run, "tasks": tasks, "shape": shape},
    )


def _run_action(
    request: Request,
    user: CurrentUser,
    form: FormData,
    dag_id: str,
    run_id: str,
    event: str,
    change: Callable[[Session], Any],
    ok: Callable[[Any], str],
    *,
    default: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    back_to = default or dag_url(dag_id, "runs", run_id)
    try:
        result = actions.apply(
            request, user, event, change, dag_id=dag_id, run_id=run_id, extra=extra, wake=True
        )
    except TradewindError as exc:
        return actions.outcome(request, form, back_to, error=exc)
    return actions.outcome(
        request, form, back_to, ok=ok(result), data={"dag_id": dag_id, "run_id": run_id}
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@router.post("/dags/{dag_id}/runs/{run_id}/clear")
def clear_run(
    request: Request,
    dag_id: str,
    run_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    only_failed = actions.field(form, "only_failed") in {"true", "on", "1"}
    what = "failed task instance" if only_failed else "task instance"
    return _run_action(
        request,
        user,
        form,
        dag_id,
        run_id,
        "clear",
        lambda s: clearing.clear_run(
            s, dag_id, run_id, only_failed=only_failed, dry_run=False, now=timezone.utcnow()
        ),
        lambda tis: f"Cleared {_plural(len(tis), what)} of run {run_id}.",
        extra={"only_failed": only_failed},
    )


@router.post("/dags/{dag_id}/runs/{run_id}/mark")
def mark_run(
    request: Request,
    dag_id: str,
    run_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    state = actions.field(form, "state")
    if state not in {"success", "failed"}:
        return actions.outcome(
            request,
            form,
            dag_url(dag_id, "runs", run_id),
            error=InvalidStateTransition(f"cannot mark a run {state!r}: use success or failed"),
        )
    return _run_action(
        request,
        user,
        form,
        dag_id,
        run_id,
        f"mark_run_{state}",
        lambda s: dag_runs.set_run_state(s, dag_id, run_id, state, now=timezone.utcnow()),
        lambda _: f"Run {run_id} marked {state}.",
    )


@router.post("/dags/{dag_id}/runs/{run_id}/delete")
def delete_run(
    request: Request,
    dag_id: str,
    run_id: str,
    user: CurrentUser = Depends(ui_session.can(Action.RUN)),
    form: FormData = Depends(ui_session.csrf_form),
) -> Response:
    return _run_action(
        request,
        user,
        form,
        dag_id,
        run_id,
        "delete_run",
        lambda s: dag_runs.delete_run(s, dag_id, run_id),
        lambda _: f"Run {run_id} deleted.",
        default=dag_url(dag_id),
    )
