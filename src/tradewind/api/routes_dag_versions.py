"""``/api/v2/dags/{dag_id}/dagVersions``: the stored versions of a DAG (``~``: of every DAG)."""

from __future__ import annotations

from fastapi import APIRouter

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader
from tradewind.api.schemas.common import DagVersionResponse
from tradewind.api.schemas.dag_versions import DAGVersionCollectionResponse
from tradewind.services import dag_metadata

router = APIRouter(
    prefix="/api/v2/dags/{dag_id}/dagVersions",
    tags=["DagVersion"],
    generate_unique_id_function=deps.operation_id,
)


@router.get("", response_model=DAGVersionCollectionResponse)
def get_dag_versions(
    dag_id: str,
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    version_number: int | None = None,
) -> DAGVersionCollectionResponse:
    versions, total = dag_metadata.list_versions_page(
        session, deps.all_or(dag_id), version_number=version_number, order_by=order_by, page=page
    )
    return DAGVersionCollectionResponse(
        dag_versions=[DagVersionResponse.of(v) for v in versions], total_entries=total
    )


@router.get("/{version_number}", response_model=DagVersionResponse)
def get_dag_version(
    dag_id: str, version_number: int, session: ApiSession, user: Reader
) -> DagVersionResponse:
    return DagVersionResponse.of(dag_metadata.get_version(session, dag_id, version_number))
