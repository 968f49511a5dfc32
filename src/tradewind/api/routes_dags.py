"""``/api/v2/dags``: list, read, pause and delete DAGs; ``/api/v2/dagTags``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader, Runner
from tradewind.api.schemas.dags import (
    DAGCollectionResponse,
    DAGDetailsResponse,
    DAGPatchBody,
    DAGResponse,
)
from tradewind.api.schemas.monitoring import DAGTagCollectionResponse
from tradewind.sdk import timezone
from tradewind.services import audit, dag_metadata, dags

router = APIRouter(prefix="/api/v2", tags=["DAG"], generate_unique_id_function=deps.operation_id)

ListQuery = Annotated[list[str] | None, Query()]


def _dag_response(request: Request, item: dag_metadata.DagListing) -> DAGResponse:
    token = deps.signer(request, "file_token").dumps(item.row.fileloc or "")
    return DAGResponse.of(
        item, file_token=token, dags_folder=deps.app_settings(request).dags_folder
    )


def _filter(
    dag_id_pattern: str | None,
    dag_id_prefix_pattern: str | None,
    tags: list[str] | None,
    tags_match_mode: str | None,
    owners: list[str] | None,
    paused: bool | None,
    exclude_stale: bool,
    only_active: bool | None,
    has_import_errors: bool | None = None,
    last_dag_run_state: str | None = None,
) -> dag_metadata.DagFilter:
    return dag_metadata.DagFilter(
        dag_id_pattern=dag_id_pattern,
        dag_id_prefix_pattern=dag_id_prefix_pattern,
        tags=tags,
        tags_match_all=tags_match_mode == "all",
        owners=owners,
        paused=paused,
        exclude_stale=exclude_stale if only_active is None else only_active,
        has_import_errors=has_import_errors,
        last_run_states=[last_dag_run_state] if last_dag_run_state else None,
    )


@router.get("/dags", response_model=DAGCollectionResponse)
def get_dags(
    request: Request,
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    tags: ListQuery = None,
    tags_match_mode: Literal["any", "all"] | None = None,
    owners: ListQuery = None,
    dag_id_pattern: str | None = None,
    dag_id_prefix_pattern: str | None = None,
    exclude_stale: bool = True,
    only_active: bool | None = None,
    paused: bool | None = None,
    has_import_errors: bool | None = None,
    last_dag_run_state: Literal["queued", "running", "success", "failed"] | None = None,
) -> DAGCollectionResponse:
    """DAGs, by dag_id unless ``order_by`` says otherwise (``-`` prefix for descending)."""
    where = _filter(
        dag_id_pattern,
        dag_id_prefix_pattern,
        tags,
        tags_match_mode,
        owners,
        paused,
        exclude_stale,
        only_active,
        has_import_errors,
        last_dag_run_state,
    )
    items, total = dag_metadata.list_dags_page(session, where, order_by=order_by, page=page)
    return DAGCollectionResponse(
        dags=[_dag_response(request, item) for item in items], total_entries=total
    )


@router.get("/dags/{dag_id}", response_model=DAGResponse)
def get_dag(dag_id: str, request: Request, session: ApiSession, user: Reader) -> DAGResponse:
    return _dag_response(request, dag_metadata.dag_listing(session, dag_id))


@router.get("/dags/{dag_id}/details", response_model=DAGDetailsResponse)
def get_dag_details(
    dag_id: str, request: Request, session: ApiSession, user: Reader
) -> DAGDetailsResponse:
    """The DAG as of its latest version: schedule, params, dates and the version itself."""
    row, version, dag = dags.latest_dag(session, dag_id)
    item = dag_metadata.dag_listing(session, dag_id)
    return DAGDetailsResponse.of_dag(
        item,
        version,
        dag,
        file_token=deps.signer(request, "file_token").dumps(row.fileloc or ""),
        dags_folder=deps.app_settings(request).dags_folder,
        active_runs_count=dag_metadata.active_runs_count(session, dag_id),
    )


def _check_update_mask(update_mask: list[str] | None) -> None:
    if update_mask and update_mask != ["is_paused"]:
        raise HTTPException(
            status_code=400, detail="Only `is_paused` field can be updated through the REST API"
        )


@router.patch("/dags/{dag_id}", response_model=DAGResponse)
def patch_dag(
    dag_id: str,
    body: DAGPatchBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    update_mask: ListQuery = None,
) -> DAGResponse:
    """Pause or unpause; unpausing recomputes when the next scheduled run is due."""
    _check_update_mask(update_mask)
    dags.set_paused(session, dag_id, body.is_paused, now=timezone.utcnow())
    audit.record(
        session,
        "patch_dag",
        owner=user.username,
        dag_id=dag_id,
        extra={"is_paused": body.is_paused},
    )
    if not body.is_paused:
        deps.wake_scheduler_after_commit(request, session)
    return _dag_response(request, dag_metadata.dag_listing(session, dag_id))


@router.patch("/dags", response_model=DAGCollectionResponse)
def patch_dags(
    body: DAGPatchBody,
    request: Request,
    session: ApiSession,
    user: Runner,
    page: PageParams,
    update_mask: ListQuery = None,
    tags: ListQuery = None,
    tags_match_mode: Literal["any", "all"] | None = None,
    owners: ListQuery = None,
    dag_id_pattern: str | None = None,
    dag_id_prefix_pattern: str | None = None,
    exclude_stale: bool = True,
    only_active: bool | None = None,
    paused: bool | None = None,
) -> DAGCollectionResponse:
    """Pause or unpause every DAG matching the filters. Without ``dag_id_pattern`` (or its prefix
    form) nothing matches; ``~`` matches every DAG."""
    _check_update_mask(update_mask)
    if not dag_id_pattern and not dag_id_prefix_pattern:
        return DAGCollectionResponse(dags=[], total_entries=0)
    where = _filter(
        dag_id_pattern,
        dag_id_prefix_pattern,
        tags,
        tags_match_mode,
        owners,
        paused,
        exclude_stale,
        only_active,
    )
    now = timezone.utcnow()
    dag_ids = dag_metadata.matching_dag_ids(session, where)
    for dag_id in dag_ids:
        dags.set_paused(session, dag_id, body.is_paused, now=now)
        audit.record(
            session,
            "patch_dags",
            owner=user.username,
            dag_id=dag_id,
            extra={"is_paused": body.is_paused},
        )
    if dag_ids and not body.is_paused:
        deps.wake_scheduler_after_commit(request, session)
    items, total = dag_metadata.list_dags_page(
        session,
        dag_metadata.DagFilter(dag_ids=dag_ids, exclude_stale=False),
        order_by=None,
        page=page,
    )
    return DAGCollectionResponse(
        dags=[_dag_response(request, item) for item in items], total_entries=total
    )


@router.delete("/dags/{dag_id}", status_code=204, response_class=Response)
def delete_dag(dag_id: str, request: Request, session: ApiSession, user: Runner) -> Response:
    """Delete the DAG's metadata (runs, task instances, versions); 409 while tasks run.
    A DAG whose file is still in the DAG folder is stored again at once, as a new DAG."""
    dag_metadata.delete_dag(session, dag_id)
    deps.wake_dag_processor_after_commit(request, session)
    audit.record(session, "delete_dag", owner=user.username, dag_id=dag_id)
    return Response(status_code=204)


@router.get("/dagTags", response_model=DAGTagCollectionResponse)
def get_dag_tags(
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: Literal["name", "-name"] = "name",
    tag_name_pattern: str | None = None,
    tag_name_prefix_pattern: str | None = None,
) -> DAGTagCollectionResponse:
    names, total = dag_metadata.list_tags_page(
        session,
        name_pattern=tag_name_pattern,
        name_prefix_pattern=tag_name_prefix_pattern,
        descending=order_by == "-name",
        page=page,
    )
    return DAGTagCollectionResponse(tags=names, total_entries=total)
