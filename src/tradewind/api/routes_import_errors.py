"""``/api/v2/importErrors``: DAG files that could not be loaded, and why."""

from __future__ import annotations

from fastapi import APIRouter

from tradewind.api import deps
from tradewind.api.deps import ApiSession, OrderBy, PageParams, Reader
from tradewind.api.schemas.monitoring import ImportErrorCollectionResponse, ImportErrorResponse
from tradewind.services import dag_metadata

router = APIRouter(
    prefix="/api/v2/importErrors",
    tags=["Import Error"],
    generate_unique_id_function=deps.operation_id,
)


@router.get("", response_model=ImportErrorCollectionResponse)
def get_import_errors(
    session: ApiSession,
    user: Reader,
    page: PageParams,
    order_by: OrderBy = None,
    filename: str | None = None,
    filename_pattern: str | None = None,
    filename_prefix_pattern: str | None = None,
) -> ImportErrorCollectionResponse:
    rows, total = dag_metadata.list_import_errors_page(
        session,
        filename=filename,
        filename_pattern=filename_pattern,
        filename_prefix_pattern=filename_prefix_pattern,
        order_by=order_by,
        page=page,
    )
    return ImportErrorCollectionResponse(
        import_errors=[ImportErrorResponse.of(r) for r in rows], total_entries=total
    )


@router.get("/{import_error_id}", response_model=ImportErrorResponse)
def get_import_error(
    import_error_id: int, session: ApiSession, user: Reader
) -> ImportErrorResponse:
    return ImportErrorResponse.of(dag_metadata.get_import_error(session, import_error_id))
