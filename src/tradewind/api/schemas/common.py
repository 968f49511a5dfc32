"""Pieces shared by several response models."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from tradewind.db.models import DagVersion
from tradewind.services import dag_metadata

#: Airflow 3's name for the bundle of DAGs read from the DAG folder.
BUNDLE_NAME = "dags-folder"


_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")


def _iso_text(value: Any) -> Any:
    """Only ISO 8601 text is a datetime, as in Airflow: pydantic alone would take a number, or
    text such as ``0.5``, as seconds since 1970."""
    if isinstance(value, datetime) or (isinstance(value, str) and not _NUMBER.fullmatch(value)):
        return value
    raise ValueError(
        f"expected an ISO 8601 date-time such as 2024-01-31T12:00:00+00:00, got {value!r}"
    )


#: A datetime of a query parameter or request body; without a zone it is taken as UTC.
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_text)]
#: A datetime of a request body that must carry its zone.
IsoAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class RequestBody(BaseModel):
    """A request body: unknown fields are an error (422), as in Airflow."""

    model_config = ConfigDict(extra="forbid")


def row_uuid(row_id: int) -> uuid.UUID:
    """Airflow identifies task instances and DAG versions by UUID; ours are integers."""
    return uuid.UUID(int=row_id)


class TimeDelta(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    type: str = Field(default="TimeDelta", alias="__type")
    days: int
    seconds: int
    microseconds: int

    @classmethod
    def of(cls, value: timedelta | None) -> TimeDelta | None:
        if value is None:
            return None
        return cls(days=value.days, seconds=value.seconds, microseconds=value.microseconds)


class DagVersionResponse(BaseModel):
    id: uuid.UUID
    version_number: int
    dag_id: str
    bundle_name: str | None = BUNDLE_NAME
    bundle_version: str | None = None
    bundle_url: str | None = None
    created_at: datetime
    dag_display_name: str

    @classmethod
    def of(cls, version: DagVersion) -> DagVersionResponse:
        summary = dag_metadata.version_summary(version)
        return cls(
            id=row_uuid(version.id),
            version_number=version.version_number,
            dag_id=version.dag_id,
            created_at=version.created_at,
            dag_display_name=summary.display_name,
        )
