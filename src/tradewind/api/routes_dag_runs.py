"""``/api/v2/dags/{dag_id}/dagRuns``: list, trigger, read, mark, clear and delete DAG runs.

``~`` as ``dag_id`` lists the runs of every DAG.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader, Runner
from tradewind.api.schemas.dag_runs import (
    DAGRunClearBody,
    DAGRunCollectionResponse,
    DAGRunPatchBody,
    DAGRunResponse,
    DAGRunsBatchBody,
    TriggerDAGRunPostBody,
)
from tradewind.api.schemas.task_instances import TaskInstanceCollectionResponse
from tradewind.db.models import DagRun
from tradewind.sdk import timezone
from tradewind.services import audit, clearing, dag_metadata, dag_runs, dags, paging, task_instances

router = APIRouter(
    prefix="/api/v2/dags/{dag_id}/dagRuns",
    tags=["DagRun"],
    generate_unique_id_function=deps.operation_id,
)

RunState = Literal["queued", "running", "success", "failed"]
RunType = Literal[
    "backfill",
    "scheduled",
    "manual",
    "asset_triggered",
    "operator_triggered",
    "asset_materialization",
]


def run_responses(session: Session, runs: Sequence[DagRun]) -> list[DAGRunResponse]:
    version_ids = dag_runs.version_ids_of_runs(session, runs)
    return DAGRunResponse.many(
        runs,
        display_names=dag_metadata.display_names(session, {run.dag_id for run in runs}),
        version_ids=version_ids,
        versions=dag_metadata.versions_by_id(
            session, (vid for ids in version_ids.values() for vid in ids)
        ),
    )


def run_response(session: Session, run: DagRun) -> DAGRunResponse:
    return run_responses(session, [run])[0]


@router.get("", response_model=DAGRunCollectionResponse)
def get_dag_runs(
    dag_id: str,
    session: ApiSession,
    user: Reader,
    page: PageParams,
    run_after: deps.RunAfterRange,
    logical_date: deps.LogicalDateRange,
    start_date: deps.StartDateRange,
    end_date: deps.EndDateRange,
    updated_at: deps.UpdatedAtRange,
    order_by: OrderBy = None,
    cursor: str | None = None,
    run_type: Annotated[list[RunType] | None, Query()] = None,
    state: Annotated[list[RunState] | None, Query()] = None,
    dag_version: Annotated[list[int] | None, Query()] = None,
    run_id_pattern: str | None = None,
    run_id_prefix_pattern: str | None = None,
    dag_id_pattern: str | None = None,
    dag_id_prefix_pattern: str | None = None,
    conf_contains: str | None = None,
) -> DAGRunCollectionResponse:
    """Runs of the DAG (``~``: of every DAG), by id unless ``order_by`` says otherwise."""
    only = deps.all_or(dag_id)
    if only is not None:
        dags.get_dag_row(session, only)
    page = deps.cursor_page(cursor, page)
    where = dag_runs.RunFilter(
        dag_ids=[only] if only is not None else None,
        dag_id_pattern=dag_id_pattern,
        dag_id_prefix_pattern=dag_id_prefix_pattern,
        run_id_pattern=run_id_pattern,
        run_id_prefix_pattern=run_id_prefix_pattern,
        states=state,
        run_types=run_type,
        version_numbers=dag_version,
        conf_contains=conf_contains,
        run_after=run_after,
        logical_date=logical_date,
        start_date=start_date,
        end_date=end_date,
        updated_at=updated_at,
    )
    runs, total = dag_runs.list_runs_page(session, where, order_by=order_by, page=page)
    following, previous = deps.cursors(cursor, page, total)
    return DAGRunCollectionResponse(
        dag_runs=run_responses(session, runs),
        total_entries=total,
        next_cursor=following,
        previous_cursor=previous,
    )


@router.post("/list", response_model=DAGRunCollectionResponse)
def get_list_dag_runs_batch(
    dag_id: str, body: DAGRunsBatchBody, session: ApiSession, user: Reader
) -> DAGRunCollectionResponse:
    """The same listing with filters in the body (``~`` as ``dag_id``, ``dag_ids`` to pick DAGs)."""
    if any(
        value is not None
        for value in (body.duration_gte, body.duration_gt, body.duration_lte, body.duration_lt)
    ):
        raise HTTPException(
            status_code=400, detail="Filtering DAG runs by duration is not supported"
        )
    only = deps.all_or(dag_id)
    if only is not None:
        dags.get_dag_row(session, only)
        if body.dag_ids is not None and only not in body.dag_ids:
            return DAGRunCollectionResponse(dag_runs=[], total_entries=0)
    chosen = [only] if only is not None else body.dag_ids

    def bounds(name: str) -> paging.Range:
        return paging.Range(
            **{
                b: timezone.coerce_utc(getattr(body, f"{name}_{b}"))
                for b in ("gte", "gt", "lte", "lt")
            }
        )

    where = dag_runs.RunFilter(
        dag_ids=chosen,
        states=[s for s in body.states if s is not None] if body.states else None,
        conf_contains=body.conf_contains,
        run_after=bounds("run_after"),
        logical_date=bounds("logical_date"),
        start_date=bounds("start_date"),
        end_date=bounds("end_date"),
    )
    page = paging.Page(
        limit=min(body.page_limit or paging.DEFAULT_LIMIT, paging.MAX_LIMIT),
        offset=body.page_offset,
    )
    runs, total = dag_runs.list_runs_page(session, where, order_by=body.order_by, page=page)
    return DAGRunCollectionResponse(dag_runs=run_responses(session, runs), total_entries=total)


@router.post("", response_model=DAGRunResponse)
def trigger_dag_run(
    dag_id: str,
    body: TriggerDAGRunPostBody,
    request: Request,
    session: ApiSession,
    user: Runner,
) -> DAGRunResponse:
    """Create a queued manual run. Without ``logical_date`` the run has none (Airflow 3); its
    ``conf`` must satisfy the DAG's params (400 says why not)."""
    if body.partition_key is not None:
        raise HTTPException(
            status_code=400, detail="Partitioned runs (partition_key) are not supported"
        )
    dag_runs.check_triggerable(session, dag_id)
    interval = (
        (timezone.coerce_utc(body.data_interval_start), timezone.coerce_utc(body.data_interval_end))
        if body.data_interval_start is not None and body.data_interval_end is not None
        else None
    )
    info = dag_runs.trigger(
        session,
        dag_id,
        conf=body.conf,
        run_id=body.dag_run_id,
        logical_date=body.logical_date,
        now=timezone.utcnow(),
        triggered_by="rest_api",
        without_logical_date=body.logical_date is None,
        run_after=body.run_after,
        data_interval=interval,
        note=body.note,
    )
    audit.record(
        session,
        "trigger_dag_run",
        owner=user.username,
        dag_id=dag_id,
        run_id=info.run_id,
        extra=body.model_dump(mode="json", exclude_none=True),
    )
    deps.wake_scheduler_after_commit(request, session)
    return run_response(session, dag_runs.get_run(session, dag_id, info.run_id))


@router.get("/{dag_run_id}", response_model=DAGRunResponse)
def get_dag_run(dag_id: str, dag_run_id: str, session: ApiSession, user: Reader) -> DAGRunResponse:
    return run_response(session, dag_runs.get_run(session, dag_id, dag_run_id))


@router.patch("/{dag_run_id}", response_model=DAGRunResponse)
def patch_dag_run(
    dag_id: str,
    dag_run_id: str,
    body: DAGRunPatchBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> DAGRunResponse:
    """Mark the run queued, success or failed (its
    unfinished task instances too), or set its note."""
    fields = set(body.model_fields_set)
    if update_mask:
        fields &= set(update_mask)
    run = dag_runs.get_run(session, dag_id, dag_run_id)
    if "state" in fields and body.state is not None:
        run = dag_runs.set_run_state(session, dag_id, dag_run_id, body.state, now=timezone.utcnow())
        deps.wake_scheduler_after_commit(request, session)
    if "note" in fields:
        run = dag_runs.set_run_note(session, dag_id, dag_run_id, body.note)
    audit.record(
        session,
        "patch_dag_run",
        owner=user.username,
        dag_id=dag_id,
        run_id=dag_run_id,
        extra=body.model_dump(mode="json", include=fields),
    )
    return run_response(session, run)


@router.delete("/{dag_run_id}", status_code=204, response_class=Response)
def delete_dag_run(dag_id: str, dag_run_id: str, session: ApiSession, user: Runner) -> Response:
    dag_runs.delete_run(session, dag_id, dag_run_id)
    audit.record(session, "delete_dag_run", owner=user.username, dag_id=dag_id, run_id=dag_run_id)
    return Response(status_code=204)


@router.post("/{dag_run_id}/clear", response_model=TaskInstanceCollectionResponse | DAGRunResponse)
def clear_dag_run(
    dag_id: str,
    dag_run_id: str,
    body: DAGRunClearBody,
    request: Request,
    session: ApiSession,
    user: Runner,
) -> TaskInstanceCollectionResponse | DAGRunResponse:
    """Clear the run's task instances (``only_failed``: the failed ones) so they run again.

    With ``dry_run`` (the default) nothing changes and the instances that would be cleared are
    returned; otherwise the run, queued again, is returned.
    """
    if body.only_new:
        raise HTTPException(status_code=400, detail="only_new is not supported")
    if body.run_on_latest_version:
        raise HTTPException(
            status_code=400,
            detail="run_on_latest_version is not supported: a cleared run keeps its DAG version",
        )
    now = timezone.utcnow()
    tis = clearing.clear_run(
        session, dag_id, dag_run_id, only_failed=body.only_failed, dry_run=body.dry_run, now=now
    )
    if body.dry_run:
        return TaskInstanceCollectionResponse.of(task_instances.describe(session, tis))
    if body.note is not None:
        dag_runs.set_run_note(session, dag_id, dag_run_id, body.note)
    audit.record(
        session,
        "clear_dag_run",
        owner=user.username,
        dag_id=dag_id,
        run_id=dag_run_id,
        extra={**body.model_dump(mode="json", exclude_none=True), "cleared": len(tis)},
    )
    deps.wake_scheduler_after_commit(request, session)
    return run_response(session, dag_runs.get_run(session, dag_id, dag_run_id))
