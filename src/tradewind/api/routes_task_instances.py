"""Task instances: list and read them and their tries, mark their state, clear them.

``~`` as ``dag_id`` or ``dag_run_id`` in the listing means every DAG or run.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy.orm import Session

from tradewind.api import deps
from tradewind.api.deps import ApiSession, CurrentUser, OrderBy, PageParams, Reader, Runner
from tradewind.api.schemas.task_instances import (
    ClearTaskInstancesBody,
    PatchTaskInstanceBody,
    TaskInstanceCollectionResponse,
    TaskInstanceHistoryCollectionResponse,
    TaskInstanceHistoryResponse,
    TaskInstanceResponse,
)
from tradewind.sdk import timezone
from tradewind.services import audit, clearing, task_instances

router = APIRouter(
    prefix="/api/v2/dags/{dag_id}",
    tags=["Task Instance"],
    generate_unique_id_function=deps.operation_id,
)

_TI = "/dagRuns/{dag_run_id}/taskInstances"
ListQuery = Annotated[list[str] | None, Query()]
IntListQuery = Annotated[list[int] | None, Query()]


def _one(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int
) -> TaskInstanceResponse:
    ti = task_instances.get(session, dag_id, run_id, task_id, map_index)
    return TaskInstanceResponse.of(task_instances.describe(session, [ti])[0])


@router.get(_TI, response_model=TaskInstanceCollectionResponse)
def get_task_instances(
    dag_id: str,
    dag_run_id: str,
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
    task_id: str | None = None,
    duration_gte: float | None = None,
    duration_gt: float | None = None,
    duration_lte: float | None = None,
    duration_lt: float | None = None,
    state: ListQuery = None,
    pool: ListQuery = None,
    queue: ListQuery = None,
    operator: ListQuery = None,
    try_number: IntListQuery = None,
    map_index: IntListQuery = None,
    version_number: IntListQuery = None,
    dag_id_pattern: str | None = None,
    run_id_pattern: str | None = None,
    task_display_name_pattern: str | None = None,
) -> TaskInstanceCollectionResponse:
    """Task instances of a run (``~`` for every DAG or run), by map index by default."""
    page = deps.cursor_page(cursor, page)
    where = task_instances.TaskInstanceFilter(
        dag_id=deps.all_or(dag_id),
        run_id=deps.all_or(dag_run_id),
        task_id=task_id,
        dag_id_pattern=dag_id_pattern,
        run_id_pattern=run_id_pattern,
        task_id_pattern=task_display_name_pattern,
        states=state,
        pools=pool,
        queues=queue,
        operators=operator,
        try_numbers=try_number,
        map_indexes=map_index,
        version_numbers=version_number,
        run_after=run_after,
        logical_date=logical_date,
        start_date=start_date,
        end_date=end_date,
        updated_at=updated_at,
        duration_gte=duration_gte,
        duration_gt=duration_gt,
        duration_lte=duration_lte,
        duration_lt=duration_lt,
    )
    views, total = task_instances.list_page(session, where, order_by=order_by, page=page)
    following, previous = deps.cursors(cursor, page, total)
    response = TaskInstanceCollectionResponse.of(views, total)
    response.next_cursor, response.previous_cursor = following, previous
    return response


@router.get(_TI + "/{task_id}", response_model=TaskInstanceResponse)
def get_task_instance(
    dag_id: str, dag_run_id: str, task_id: str, session: ApiSession, user: Reader
) -> TaskInstanceResponse:
    return _one(session, dag_id, dag_run_id, task_id, -1)


@router.get(_TI + "/{task_id}/listMapped", response_model=TaskInstanceCollectionResponse)
def get_mapped_task_instances(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    state: ListQuery = None,
) -> TaskInstanceCollectionResponse:
    where = task_instances.TaskInstanceFilter(
        dag_id=dag_id, run_id=dag_run_id, task_id=task_id, states=state, only_mapped=True
    )
    views, total = task_instances.list_page(session, where, order_by=order_by, page=page)
    return TaskInstanceCollectionResponse.of(views, total)


def _tries(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int
) -> TaskInstanceHistoryCollectionResponse:
    views = task_instances.describe(
        session, task_instances.tries(session, dag_id, run_id, task_id, map_index)
    )
    return TaskInstanceHistoryCollectionResponse(
        task_instances=[TaskInstanceHistoryResponse.of(view) for view in views],
        total_entries=len(views),
    )


def _try(
    session: Session, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int
) -> TaskInstanceHistoryResponse:
    found = task_instances.get_try(session, dag_id, run_id, task_id, try_number, map_index)
    return TaskInstanceHistoryResponse.of(task_instances.describe(session, [found])[0])


@router.get(_TI + "/{task_id}/tries", response_model=TaskInstanceHistoryCollectionResponse)
def get_task_instance_tries(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: ApiSession,
    user: Reader,
    map_index: int = -1,
) -> TaskInstanceHistoryCollectionResponse:
    """Every try, oldest first: earlier tries from the history, then the current one."""
    return _tries(session, dag_id, dag_run_id, task_id, map_index)


@router.get(_TI + "/{task_id}/tries/{task_try_number}", response_model=TaskInstanceHistoryResponse)
def get_task_instance_try_details(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    task_try_number: int,
    session: ApiSession,
    user: Reader,
    map_index: int = -1,
) -> TaskInstanceHistoryResponse:
    return _try(session, dag_id, dag_run_id, task_id, task_try_number, map_index)


@router.get(
    _TI + "/{task_id}/{map_index:int}/tries", response_model=TaskInstanceHistoryCollectionResponse
)
def get_mapped_task_instance_tries(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    session: ApiSession,
    user: Reader,
) -> TaskInstanceHistoryCollectionResponse:
    return _tries(session, dag_id, dag_run_id, task_id, map_index)


@router.get(
    _TI + "/{task_id}/{map_index:int}/tries/{task_try_number}",
    response_model=TaskInstanceHistoryResponse,
)
def get_mapped_task_instance_try_details(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    task_try_number: int,
    session: ApiSession,
    user: Reader,
) -> TaskInstanceHistoryResponse:
    return _try(session, dag_id, dag_run_id, task_id, task_try_number, map_index)


@router.get(_TI + "/{task_id}/{map_index:int}", response_model=TaskInstanceResponse)
def get_mapped_task_instance(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    session: ApiSession,
    user: Reader,
) -> TaskInstanceResponse:
    return _one(session, dag_id, dag_run_id, task_id, map_index)


def _patch(
    request: Request,
    session: Session,
    user: CurrentUser,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None,
    body: PatchTaskInstanceBody,
    update_mask: list[str] | None,
    *,
    dry_run: bool,
) -> TaskInstanceCollectionResponse:
    fields = set(body.model_fields_set)
    if update_mask:
        fields &= set(update_mask)
    targets = task_instances.of_task(session, dag_id, run_id, task_id, map_index)
    changed = targets
    if "new_state" in fields and body.new_state is not None:
        changed = task_instances.set_state(
            session,
            dag_id,
            run_id,
            task_id,
            body.new_state,
            map_index=map_index,
            upstream=body.include_upstream,
            downstream=body.include_downstream,
            past=body.include_past,
            future=body.include_future,
            dry_run=dry_run,
            now=timezone.utcnow(),
        )
        if not dry_run:
            deps.wake_scheduler_after_commit(request, session)
    if "note" in fields and not dry_run:
        task_instances.set_notes(targets, body.note)
    if not dry_run:
        audit.record(
            session,
            "patch_task_instance",
            owner=user.username,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            extra=body.model_dump(mode="json", include=fields),
        )
    return TaskInstanceCollectionResponse.of(task_instances.describe(session, changed))


@router.patch(_TI + "/{task_id}/dry_run", response_model=TaskInstanceCollectionResponse)
def patch_task_instance_dry_run(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: PatchTaskInstanceBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    map_index: int | None = None,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    """The task instances a PATCH with this body would change; nothing is changed."""
    return _patch(
        request,
        session,
        user,
        dag_id,
        dag_run_id,
        task_id,
        map_index,
        body,
        update_mask,
        dry_run=True,
    )


@router.patch(
    _TI + "/{task_id}/{map_index:int}/dry_run", response_model=TaskInstanceCollectionResponse
)
def patch_task_instance_dry_run_by_map_index(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    body: PatchTaskInstanceBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    return _patch(
        request,
        session,
        user,
        dag_id,
        dag_run_id,
        task_id,
        map_index,
        body,
        update_mask,
        dry_run=True,
    )


@router.patch(_TI + "/{task_id}", response_model=TaskInstanceCollectionResponse)
def patch_task_instance(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    body: PatchTaskInstanceBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    map_index: int | None = None,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    """Set the state (success, failed, skipped; optionally of relatives and past/future runs)
    and/or the note. Failed downstream instances are cleared so the run can go on."""
    return _patch(
        request,
        session,
        user,
        dag_id,
        dag_run_id,
        task_id,
        map_index,
        body,
        update_mask,
        dry_run=False,
    )


@router.patch(_TI + "/{task_id}/{map_index:int}", response_model=TaskInstanceCollectionResponse)
def patch_task_instance_by_map_index(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    map_index: int,
    body: PatchTaskInstanceBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> TaskInstanceCollectionResponse:
    return _patch(
        request,
        session,
        user,
        dag_id,
        dag_run_id,
        task_id,
        map_index,
        body,
        update_mask,
        dry_run=False,
    )


@router.post("/clearTaskInstances", response_model=TaskInstanceCollectionResponse)
def post_clear_task_instances(
    dag_id: str,
    body: ClearTaskInstancesBody,
    request: Request,
    session: ApiSession,
    user: Runner,
) -> TaskInstanceCollectionResponse:
    """Clear task instances of the DAG so the scheduler runs them again (``dry_run``, the
    default, only lists them). Queued or running instances are refused with 409."""
    if body.run_on_latest_version:
        raise HTTPException(
            status_code=400,
            detail="run_on_latest_version is not supported: cleared runs keep their DAG version",
        )
    tasks = None
    if body.task_ids is not None:
        tasks = [
            clearing.TaskSelector(item)
            if isinstance(item, str)
            else clearing.TaskSelector(item[0], item[1])
            for item in body.task_ids
        ]
    clear_request = clearing.ClearRequest(
        run_id=body.dag_run_id,
        tasks=tasks,
        start_date=timezone.coerce_utc(body.start_date),
        end_date=timezone.coerce_utc(body.end_date),
        only_failed=body.only_failed,
        only_running=body.only_running,
        include_upstream=body.include_upstream,
        include_downstream=body.include_downstream,
        include_past=body.include_past,
        include_future=body.include_future,
        reset_dag_runs=body.reset_dag_runs,
    )
    tis = clearing.clear(
        session, dag_id, clear_request, dry_run=body.dry_run, now=timezone.utcnow()
    )
    if not body.dry_run:
        if body.note is not None:
            task_instances.set_notes(tis, body.note)
        audit.record(
            session,
            "post_clear_task_instances",
            owner=user.username,
            dag_id=dag_id,
            run_id=body.dag_run_id,
            extra={**body.model_dump(mode="json", exclude_none=True), "cleared": len(tis)},
        )
        deps.wake_scheduler_after_commit(request, session)
    return TaskInstanceCollectionResponse.of(task_instances.describe(session, tis))
