"""``/api/v2/dagSources/{dag_id}``: the source file of a DAG version, as JSON or plain text."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tradewind.api import deps
from tradewind.api.deps import ApiSession, Reader
from tradewind.api.schemas.dag_versions import DAGSourceResponse
from tradewind.services import dag_metadata

router = APIRouter(
    prefix="/api/v2", tags=["DagSource"], generate_unique_id_function=deps.operation_id
)


@router.get(
    "/dagSources/{dag_id}",
    response_model=DAGSourceResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def get_dag_source(
    dag_id: str,
    request: Request,
    session: ApiSession,
    user: Reader,
    version_number: int | None = None,
) -> DAGSourceResponse | Response:
    """The source of the DAG's latest version, or of ``version_number``."""
    version = dag_metadata.get_version(session, dag_id, version_number)
    source = DAGSourceResponse(
        dag_id=dag_id,
        dag_display_name=dag_metadata.version_summary(version).display_name,
        content=version.source_code,
        version_number=version.version_number,
    )
    if deps.preferred_media_type(request, ("application/json", "text/plain")) == "text/plain":
        return Response(source.content or "", media_type="text/plain")
    return source
