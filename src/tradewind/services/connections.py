"""Connections in the metastore: add/get/delete/list (the ``Connection`` value itself, with
its Airflow URI and JSON forms, is ``tradewind.sdk.connection``).

Passwords and extras are encrypted at rest. The caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.base import ID_LEN
from tradewind.exceptions import AlreadyExists, ConnectionNotFound, InvalidArgument
from tradewind.sdk import secrets_masker
from tradewind.sdk.connection import EXTRA_KEY, Connection, parse_port
from tradewind.services import paging
from tradewind.services.secrets import MASK, SecretCipher

__all__ = ["EXTRA_KEY", "Connection", "ConnectionInfo", "parse_port"]

_CONN_ID = re.compile(r"[\w.\-#!@$%^&*()\[\]{}:]+")  # the whole id must match (fullmatch)


@dataclasses.dataclass(frozen=True)
class ConnectionInfo:
    """A stored connection without its secrets, for listings."""

    conn_id: str
    conn_type: str
    description: str | None
    host: str | None
    schema: str | None
    login: str | None
    port: int | None
    is_encrypted: bool
    is_extra_encrypted: bool


def add_connection(session: Session, conn: Connection, *, cipher: SecretCipher) -> None:
    """Store a new connection; ``AlreadyExists`` if ``conn_id`` is taken."""
    validate_conn_id(conn.conn_id)
    if not conn.conn_type:
        raise InvalidArgument(f"connection {conn.conn_id} needs a conn_type")
    row = models.ConnectionRow(
        conn_id=conn.conn_id,
        conn_type=conn.conn_type,
        description=conn.description,
        host=conn.host,
        schema=conn.schema,
        login=conn.login,
        port=conn.port,
        password=cipher.encrypt(conn.password) if conn.password is not None else None,
        is_encrypted=conn.password is not None,
        extra=cipher.encrypt(conn.extra) if conn.extra else None,
        is_extra_encrypted=bool(conn.extra),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise AlreadyExists(f"A connection with conn_id {conn.conn_id} already exists") from exc


def get_connection(session: Session, conn_id: str, *, cipher: SecretCipher) -> Connection:
    """The connection ``conn_id`` with its secrets decrypted; ``ConnectionNotFound`` if none."""
    row = session.scalar(
        select(models.ConnectionRow).where(models.ConnectionRow.conn_id == conn_id)
    )
    if row is None:
        raise ConnectionNotFound(f"Connection {conn_id} does not exist")
    password, extra = row.password, row.extra
    if row.is_encrypted and password is not None:
        password = cipher.decrypt(password, what=f"the password of connection {conn_id!r}")
    if row.is_extra_encrypted and extra is not None:
        extra = cipher.decrypt(extra, what=f"the extra of connection {conn_id!r}")
    return Connection(
        conn_id=row.conn_id,
        conn_type=row.conn_type,
        host=row.host,
        schema=row.schema,
        login=row.login,
        password=password,
        port=row.port,
        extra=extra,
        description=row.description,
    )


def delete_connection(session: Session, conn_id: str) -> None:
    """Delete ``conn_id``; ``ConnectionNotFound`` if there is none."""
    result = session.execute(
        delete(models.ConnectionRow).where(models.ConnectionRow.conn_id == conn_id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]  # a DELETE gives a CursorResult
        raise ConnectionNotFound(f"Connection {conn_id} does not exist")


def list_connections(session: Session) -> list[ConnectionInfo]:
    """Every connection by conn_id, without password or extra (nothing is decrypted)."""
    rows = session.scalars(select(models.ConnectionRow).order_by(models.ConnectionRow.conn_id))
    return [
        ConnectionInfo(
            conn_id=r.conn_id,
            conn_type=r.conn_type,
            description=r.description,
            host=r.host,
            schema=r.schema,
            login=r.login,
            port=r.port,
            is_encrypted=r.is_encrypted,
            is_extra_encrypted=r.is_extra_encrypted,
        )
        for r in rows
    ]


def validate_conn_id(conn_id: str) -> None:
    """``InvalidArgument`` unless ``conn_id`` is 1-250 characters without spaces or slashes."""
    if not conn_id or len(conn_id) > ID_LEN or not _CONN_ID.fullmatch(conn_id):
        raise InvalidArgument(
            f"invalid conn_id {conn_id!r}: use 1-{ID_LEN} letters, digits and ._-#!@$%^&*()[]{{}}:"
        )


def parse_extra(text: str | None) -> str | None:
    """Validate an extra given as text: it must be a JSON object. Returns it unchanged."""
    if text is None or text == "":
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"connection extra is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidArgument("connection extra must be a JSON object")
    return text


# -- the REST API's view: pages, masked values, partial updates ------------------------------

ORDER_COLUMNS: Mapping[str, Any] = {
    "conn_id": models.ConnectionRow.conn_id,
    "connection_id": models.ConnectionRow.conn_id,
    "id": models.ConnectionRow.id,
    "conn_type": models.ConnectionRow.conn_type,
    "description": models.ConnectionRow.description,
    "host": models.ConnectionRow.host,
    "port": models.ConnectionRow.port,
}

#: Fields of a connection a partial update may change.
UPDATABLE_FIELDS = (
    "conn_type",
    "description",
    "host",
    "schema",
    "login",
    "password",
    "port",
    "extra",
)


def list_connections_page(
    session: Session,
    *,
    cipher: SecretCipher,
    conn_id_pattern: str | None = None,
    conn_id_prefix_pattern: str | None = None,
    order_by: str | Sequence[str] | None = None,
    page: paging.Page,
) -> tuple[list[Connection], int]:
    """One page of connections, decrypted (show them ``masked()``), by id by default."""
    query = paging.where_all(
        select(models.ConnectionRow.conn_id),
        [
            paging.pattern(models.ConnectionRow.conn_id, conn_id_pattern),
            paging.prefix(models.ConnectionRow.conn_id, conn_id_prefix_pattern),
        ],
    )
    order = paging.order_clauses(
        order_by, ORDER_COLUMNS, default=["id"], tie_breaker=models.ConnectionRow.id
    )
    ids, total = paging.paginate(session, query, order, page)
    return [get_connection(session, conn_id, cipher=cipher) for conn_id in ids], total


def update_connection(
    session: Session, conn_id: str, changes: Mapping[str, Any], *, cipher: SecretCipher
) -> Connection:
    """Change some fields of a stored connection; returns it as stored.

    A ``password`` of ``***`` keeps the stored password, and ``***`` values in an ``extra``
    JSON object keep the stored values of those keys, so a masked connection read from the
    API can be sent back without destroying its secrets.
    """
    unknown = sorted(set(changes) - set(UPDATABLE_FIELDS))
    if unknown:
        raise InvalidArgument(f"cannot update connection fields: {', '.join(unknown)}")
    current = get_connection(session, conn_id, cipher=cipher)
    values = dict(changes)
    if values.get("password") == MASK:
        values.pop("password")
    if "extra" in values:
        values["extra"] = _merge_masked_extra(parse_extra(values["extra"]), current)
    if "port" in values:
        values["port"] = parse_port(values["port"])
    if "conn_type" in values and not values["conn_type"]:
        raise InvalidArgument(f"connection {conn_id} needs a conn_type")
    updated = dataclasses.replace(current, **values)
    row = session.scalar(
        select(models.ConnectionRow).where(models.ConnectionRow.conn_id == conn_id)
    )
    if row is None:
        raise ConnectionNotFound(f"Connection {conn_id} does not exist")
    row.conn_type = updated.conn_type
    row.description = updated.description
    row.host = updated.host
    row.schema = updated.schema
    row.login = updated.login
    row.port = updated.port
    row.password = cipher.encrypt(updated.password) if updated.password is not None else None
    row.is_encrypted = updated.password is not None
    row.extra = cipher.encrypt(updated.extra) if updated.extra else None
    row.is_extra_encrypted = bool(updated.extra)
    session.flush()
    return updated


def _merge_masked_extra(extra: str | None, current: Connection) -> str | None:
    """``extra`` with the ``***`` that stand for hidden stored values (at any depth) restored."""
    if not extra or MASK not in extra:
        return extra
    given = json.loads(extra)
    merged = secrets_masker.restore_hidden(given, current.extra_dejson)
    return extra if merged == given else json.dumps(merged)
