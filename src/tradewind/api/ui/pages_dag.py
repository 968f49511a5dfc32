"""One DAG: grid, graph, calendar, gantt, code and details tabs, and the JSON they poll."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from tradewind.api.deps import CurrentUser
from tradewind.api.permissions import Action
from tradewind.api.ui import (
    highlight,
    json_answers,
    models_dag_list,
    models_graph,
    models_grid,
    models_runs,
    models_structure,
    templating,
)
from tradewind.api.ui import session as ui_session
from tradewind.api.ui.pages_dags import dag_url, scheduler_warning
from tradewind.api.ui.routing import UIRoute

router = APIRouter(route_class=UIRoute, include_in_schema=False)

GRID_SIZES = (10, 25, 50, 100, 365)


def dag_page(
    request: Request,
    session: Session,
    user: CurrentUser,
    dag_id: str,
    tab: str,
    template: str,
    context: dict[str, Any],
) -> Response:
    header = models_dag_list.dag_header(session, dag_id)
    base = {
        "dag": header,
        "dag_id": dag_id,
        "tab": tab,
        "dag_url": dag_url,
        "can_run": user.can(Action.RUN),
        "section": "dags",
        "no_scheduler": scheduler_warning(session, request),
    }
    return templating.render(request, template, {**base, **context})


def _run_choice(
    session: Session, dag_id: str, run_id: str | None
) -> tuple[str | None, list[models_grid.GridRun]]:
    runs = models_runs.runs_for_select(session, dag_id)
    if run_id is None and runs:
        run_id = runs[0].run_id
    return run_id, runs


@router.get("/dags/{dag_id}")
def grid_page(
    request: Request,
    dag_id: str,
    limit: int = 25,
    offset: int = 0,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    if limit not in GRID_SIZES:
        limit = 25
    data = models_grid.grid(session, dag_id, limit=limit, offset=offset)
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "grid",
        "dag_grid.html",
        {"grid": data, "grid_sizes": GRID_SIZES, "limit": limit, "offset": offset},
    )


@router.get("/dags/{dag_id}/grid.json")
def grid_json(
    dag_id: str,
    limit: int = 25,
    offset: int = 0,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    data = models_grid.grid(session, dag_id, limit=limit, offset=offset)
    return JSONResponse(models_grid.grid_json(data), headers={"Cache-Control": "no-store"})


@router.get("/dags/{dag_id}/graph")
def graph_page(
    request: Request,
    dag_id: str,
    run_id: str | None = None,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    """The page around the graph: the browser fetches ``graph.json`` and lays it out itself,
    so the page is as small for 5,000 tasks as for five."""
    run_id, runs = _run_choice(session, dag_id, run_id)
    document = models_graph.graph_for_run(session, dag_id, run_id)
    run_state = next((run.state for run in runs if run.run_id == run_id), None)
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "graph",
        "dag_graph.html",
        {
            "graph": document,
            "runs": runs,
            "run_id": run_id,
            "run_state": run_state,
            "has_groups": bool(document.group_members),
        },
    )


@router.get("/dags/{dag_id}/graph.json")
def graph_json(
    request: Request,
    dag_id: str,
    run_id: str | None = None,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    """The structure of the version the run used (see ``models_graph``); it never changes,
    so a browser that holds it gets a 304."""
    document = models_graph.graph_for_run(session, dag_id, run_id)
    return json_answers.bytes_answer(
        request,
        document.body,
        document.gzipped,
        etag=document.etag,
        cache_control="private, no-cache",
    )


@router.get("/dags/{dag_id}/runs/{run_id}/states.json")
def run_states(
    request: Request,
    dag_id: str,
    run_id: str,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    states = models_graph.run_states(session, dag_id, run_id)
    body = {
        "run_id": run_id,
        "state": states.state,
        "nodes": states.nodes,
    }
    return json_answers.json_answer(request, body)


@router.get("/dags/{dag_id}/calendar")
def calendar_page(
    request: Request,
    dag_id: str,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    data = models_runs.calendar(session, dag_id, templating.ui_zone(request))
    return dag_page(
        request, session, user, dag_id, "calendar", "dag_calendar.html", {"calendar": data}
    )


@router.get("/dags/{dag_id}/gantt")
def gantt_page(
    request: Request,
    dag_id: str,
    run_id: str | None = None,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    run_id, runs = _run_choice(session, dag_id, run_id)
    chart = None
    run = None
    if run_id:
        shape = models_structure.shape_for_run(session, dag_id, run_id)
        chart = models_runs.gantt(session, dag_id, run_id, list(shape.tasks))
        run = models_runs.run_details(session, dag_id, run_id)
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "gantt",
        "dag_gantt.html",
        {"chart": chart, "runs": runs, "run_id": run_id, "run": run},
    )


@router.get("/dags/{dag_id}/code")
def code_page(
    request: Request,
    dag_id: str,
    run_id: str | None = None,
    version: int | None = None,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    versions = models_structure.versions(session, dag_id)
    if version is None:
        version = models_structure.shape_for_run(session, dag_id, run_id).version_number
    source = models_structure.version_source(session, dag_id, version)
    runs = models_runs.runs_for_select(session, dag_id)
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "code",
        "dag_code.html",
        {
            "versions": versions,
            "version": version,
            "source": source,
            "run_id": run_id,
            "runs": runs,
            "lines": highlight.python_lines(source.source_code),
        },
    )


@router.get("/dags/{dag_id}/details")
def details_page(
    request: Request,
    dag_id: str,
    user: CurrentUser = Depends(ui_session.page_user),
    session: Session = Depends(ui_session.read_session, scope="function"),
) -> Response:
    shape = models_structure.latest_shape(session, dag_id)
    versions = models_structure.versions(session, dag_id)
    return dag_page(
        request,
        session,
        user,
        dag_id,
        "details",
        "dag_details.html",
        {"shape": shape, "versions": versions},
    )
