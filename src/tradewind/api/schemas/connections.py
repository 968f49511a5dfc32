"""Connections: passwords are never returned (``***``), sensitive extra fields are masked."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tradewind.api.schemas.common import RequestBody
from tradewind.services import connections


class ConnectionResponse(BaseModel):
    connection_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None
    team_name: str | None = None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    @classmethod
    def of(cls, conn: connections.Connection) -> ConnectionResponse:
        shown = conn.masked()
        return cls(
            connection_id=shown.conn_id,
            conn_type=shown.conn_type,
            description=shown.description,
            host=shown.host,
            login=shown.login,
            schema=shown.schema,
            port=shown.port,
            password=shown.password,
            extra=shown.extra,
        )


class ConnectionCollectionResponse(BaseModel):
    connections: list[ConnectionResponse]
    total_entries: int


class ConnectionBody(RequestBody):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    connection_id: str = Field(max_length=200)
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(None, alias="schema")
    port: int | None = None
    password: str | None = None
    extra: str | None = None
    team_name: str | None = Field(None, max_length=50)

    def to_connection(self) -> connections.Connection:
        return connections.Connection(
            conn_id=self.connection_id,
            conn_type=self.conn_type,
            description=self.description,
            host=self.host,
            login=self.login,
            schema=self.schema_,
            port=connections.parse_port(self.port),
            password=self.password,
            extra=connections.parse_extra(self.extra),
        )
