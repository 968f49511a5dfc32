"""DAG versions and their source code."""

from __future__ import annotations

from pydantic import BaseModel

from tradewind.api.schemas.common import DagVersionResponse


class DAGVersionCollectionResponse(BaseModel):
    dag_versions: list[DagVersionResponse]
    total_entries: int


class DAGSourceResponse(BaseModel):
    content: str | None = None
    dag_id: str
    dag_display_name: str
    version_number: int | None = None
