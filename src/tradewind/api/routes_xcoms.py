"""``.../taskInstances/{task_id}/xcomEntries``: what task instances pushed (``~`` for any DAG,
run or task in the listing)."""

from __future__ import annotations

from fastapi import APIRouter

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader
from tradewind.api.schemas.xcoms import (
    XComCollectionResponse,
    XComResponse,
    XComResponseNative,
    XComResponseString,
)
from tradewind.services import xcoms

router = APIRouter(
    prefix="/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries",
    tags=["XCom"],
    generate_unique_id_function=deps.operation_id,
)


@router.get("", response_model=XComCollectionResponse)
def get_xcom_entries(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    xcom_key: str | None = None,
    map_index: int | None = None,
    xcom_key_pattern: str | None = None,
) -> XComCollectionResponse:
    views, total = xcoms.list_page(
        session,
        dag_id=deps.all_or(dag_id),
        run_id=deps.all_or(dag_run_id),
        task_id=deps.all_or(task_id),
        key=xcom_key,
        map_index=map_index,
        key_pattern=xcom_key_pattern,
        order_by=order_by,
        page=page,
    )
    return XComCollectionResponse(
        xcom_entries=[XComResponse.of(view) for view in views], total_entries=total
    )


@router.get("/{xcom_key}", response_model=XComResponseNative | XComResponseString)
def get_xcom_entry(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    xcom_key: str,
    session: ApiSession,
    user: Reader,
    map_index: int = -1,
    deserialize: bool = False,
    stringify: bool = False,
) -> XComResponseNative | XComResponseString:
    """One entry: its value as JSON data, or as text with ``stringify``."""
    view = xcoms.get_entry(session, dag_id, dag_run_id, task_id, xcom_key, map_index)
    if stringify:
        return XComResponseString.of(view)
    return XComResponseNative.of(view)
