"""``/api/v2/connections``: passwords are never returned; ``***`` sent back keeps a secret.

Ops only, reading included (Airflow's roles: connections hold secrets)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from tradewind.api import deps
from tradewind.api.deps import ApiSession, ConfigEditor, OrderBy, PageParams
from tradewind.api.schemas.connections import (
    ConnectionBody,
    ConnectionCollectionResponse,
    ConnectionResponse,
)
from tradewind.services import audit, connections
from tradewind.services.secrets import SecretCipher

router = APIRouter(
    prefix="/api/v2/connections", tags=["Connection"], generate_unique_id_function=deps.operation_id
)

Cipher = Annotated[SecretCipher, Depends(deps.cipher)]
_BODY_FIELDS = {
    "conn_type": "conn_type",
    "description": "description",
    "host": "host",
    "login": "login",
    "schema_": "schema",
    "port": "port",
    "password": "password",
    "extra": "extra",
}


def _no_teams(team_name: str | None) -> None:
    if team_name is not None:
        raise HTTPException(status_code=400, detail="Teams (team_name) are not supported")


@router.get("", response_model=ConnectionCollectionResponse)
def get_connections(
    session: ApiSession,
    user: ConfigEditor,
    cipher: Cipher,
    page: PageParams,
    order_by: OrderBy = None,
    connection_id_pattern: str | None = None,
    connection_id_prefix_pattern: str | None = None,
) -> ConnectionCollectionResponse:
    found, total = connections.list_connections_page(
        session,
        cipher=cipher,
        conn_id_pattern=connection_id_pattern,
        conn_id_prefix_pattern=connection_id_prefix_pattern,
        order_by=order_by,
        page=page,
    )
    return ConnectionCollectionResponse(
        connections=[ConnectionResponse.of(c) for c in found], total_entries=total
    )


@router.get("/{connection_id}", response_model=ConnectionResponse)
def get_connection(
    connection_id: str, session: ApiSession, user: ConfigEditor, cipher: Cipher
) -> ConnectionResponse:
    return ConnectionResponse.of(connections.get_connection(session, connection_id, cipher=cipher))


@router.post("", status_code=201, response_model=ConnectionResponse)
def post_connection(
    body: ConnectionBody, session: ApiSession, user: ConfigEditor, cipher: Cipher
) -> ConnectionResponse:
    _no_teams(body.team_name)
    conn = body.to_connection()
    connections.add_connection(session, conn, cipher=cipher)
    audit.record(
        session, "post_connection", owner=user.username, extra={"connection_id": conn.conn_id}
    )
    return ConnectionResponse.of(connections.get_connection(session, conn.conn_id, cipher=cipher))


@router.patch("/{connection_id}", response_model=ConnectionResponse)
def patch_connection(
    connection_id: str,
    body: ConnectionBody,
    session: ApiSession,
    user: ConfigEditor,
    cipher: Cipher,
    update_mask: Annotated[list[str] | None, Query()] = None,
) -> ConnectionResponse:
    """Change the fields given (only those in ``update_mask``, if given)."""
    _no_teams(body.team_name)
    if body.connection_id != connection_id:
        raise HTTPException(
            status_code=400,
            detail=(
                "The connection_id in the request body does not match the URL: "
                f"{body.connection_id}"
            ),
        )
    changes = {
        _BODY_FIELDS[name]: getattr(body, name)
        for name in body.model_fields_set
        if name in _BODY_FIELDS
    }
    if update_mask:
        unknown = sorted(set(update_mask) - set(_BODY_FIELDS.values()))
        if unknown:
            raise HTTPException(
                status_code=400, detail=f"Cannot update fields: {', '.join(unknown)}"
            )
        changes = {name: value for name, value in changes.items() if name in update_mask}
    updated = connections.update_connection(session, connection_id, changes, cipher=cipher)
    audit.record(
        session,
        "patch_connection",
        owner=user.username,
        extra={"connection_id": connection_id, "fields": sorted(changes)},
    )
    return ConnectionResponse.of(updated)


@router.delete("/{connection_id}", status_code=204, response_class=Response)
def delete_connection(connection_id: str, session: ApiSession, user: ConfigEditor) -> Response:
    connections.delete_connection(session, connection_id)
    audit.record(
        session, "delete_connection", owner=user.username, extra={"connection_id": connection_id}
    )
    return Response(status_code=204)
