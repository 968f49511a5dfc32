"""Variables: values are shown masked by Airflow's rules (``services.variables.masked_value``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, JsonValue

from tradewind.api.schemas.common import RequestBody
from tradewind.services import variables


class VariableResponse(BaseModel):
    key: str
    value: str | None = None
    description: str | None = None
    is_encrypted: bool
    team_name: str | None = None

    @classmethod
    def of(cls, entry: variables.VariableEntry) -> VariableResponse:
        return cls(
            key=entry.key,
            value=entry.masked_value,
            description=entry.description,
            is_encrypted=entry.is_encrypted,
        )


class VariableCollectionResponse(BaseModel):
    variables: list[VariableResponse]
    total_entries: int


class VariableBody(RequestBody):
    key: str = Field(max_length=250)
    value: JsonValue
    description: str | None = None
    team_name: str | None = Field(None, max_length=50)
