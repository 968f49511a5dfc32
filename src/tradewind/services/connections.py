"""Connections: the ``Connection`` value tasks and templates use, its Airflow URI and JSON
forms, and add/get/delete/list in the metastore.

Passwords and extras are encrypted at rest. The caller owns the transaction.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.base import ID_LEN
from tradewind.exceptions import AlreadyExists, ConnectionNotFound, InvalidArgument
from tradewind.services import paging
from tradewind.services.secrets import MASK, SecretCipher, is_sensitive

#: Query parameter that carries a non-flat extra verbatim in a URI (Airflow's name).
EXTRA_KEY = "__extra__"
_CONN_ID = re.compile(r"^[\w.\-#!@$%^&*()\[\]{}:]+$")
_JSON_FIELDS = frozenset({"conn_type", "description", "host", "schema", "login", "password", "port", "extra"})


@dataclasses.dataclass(frozen=True)
class Connection:
    """How to reach an external system. ``extra`` is a JSON text (``extra_dejson`` parses it).

    Templates use it as ``{{ conn.my_id.host }}``; it is frozen: change it with
    ``dataclasses.replace``.
    """

    conn_id: str
    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    port: int | None = None
    extra: str | None = dataclasses.field(default=None, repr=False)
    description: str | None = None

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """``extra`` parsed; ``{}`` when empty or not a JSON object."""
        if not self.extra:
            return {}
        try:
            parsed = json.loads(self.extra)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    @classmethod
    def from_uri(cls, conn_id: str, uri: str, *, description: str | None = None) -> Connection:
        """Parse Airflow's connection URI, e.g. ``postgres://user:pw@host:5432/db?sslmode=x``.

        Query parameters become the extra (or ``__extra__=<json>`` carries it verbatim); a
        second scheme (``http://https://host``) becomes part of the host.
        """
        return _parse_uri(conn_id, uri, description)

    @classmethod
    def from_json(cls, conn_id: str, data: str | Mapping[str, Any]) -> Connection:
        """Airflow's JSON form: ``{"conn_type": ..., "host": ..., "extra": {...}, ...}``."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise InvalidArgument(f"connection JSON is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise InvalidArgument("connection JSON must be an object")
        unknown = set(data) - _JSON_FIELDS
        if unknown:
            raise InvalidArgument(f"unknown connection fields: {', '.join(sorted(unknown))}")
        if not data.get("conn_type"):
            raise InvalidArgument("connection JSON needs a conn_type")
        extra = data.get("extra")
        if extra is not None and not isinstance(extra, str):
            extra = json.dumps(extra)
        return cls(
            conn_id=conn_id,
            conn_type=str(data["conn_type"]),
            host=data.get("host"),
            schema=data.get("schema"),
            login=data.get("login"),
            password=data.get("password"),
            port=parse_port(data.get("port")),
            extra=extra,
            description=data.get("description"),
        )

    def get_uri(self) -> str:
        """The URI ``from_uri`` turns back into this connection (Airflow's format)."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        protocol, host = (self.host.split("://", 1) if self.host and "://" in self.host
                          else (None, self.host))
        if protocol:
            uri += f"{protocol}://"
        authority = ""
        if self.login is not None:
            authority += quote(self.login, safe="")
        if self.password is not None:
            # "*" is legal in userinfo; keeping it makes a masked URI read user:***@host.
            authority += ":" + quote(self.password, safe="*")
        if authority:
            uri += authority + "@"
        host_block = quote(host, safe="") if host else ""
        if self.port:
            host_block += f"@:{self.port}" if not host_block and not authority else f":{self.port}"
        if self.schema:
            host_block += f"/{quote(self.schema, safe='')}"
        uri += host_block
        if self.extra:
            separator = "?" if self.schema else "/?"
            query = _flat_query(self.extra_dejson)
            if query is not None and self.extra_dejson and dict(parse_qsl(query, keep_blank_values=True)) == self.extra_dejson:
                uri += separator + query
            else:
                uri += separator + urlencode({EXTRA_KEY: self.extra})
        return uri

    def masked(self) -> Connection:
        """A copy safe to show: password and sensitive extra fields replaced by ``***``."""
        extra = self.extra
        if self.extra_dejson:
            extra = json.dumps({k: (MASK if is_sensitive(k) else v) for k, v in self.extra_dejson.items()})
        password = MASK if self.password is not None else None
        return dataclasses.replace(self, password=password, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``from_json`` reads it back), with ``conn_id``."""
        return {
            "conn_id": self.conn_id,
            "conn_type": self.conn_type,
            "description": self.description,
            "host": self.host,
            "schema": self.schema,
            "login": self.login,
            "password": self.password,
            "port": self.port,
            "extra": self.extra_dejson if self.extra_dejson else self.extra,
        }


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
    row = session.scalar(select(models.ConnectionRow).where(models.ConnectionRow.conn_id == conn_id))
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
    result = session.execute(delete(models.ConnectionRow).where(models.ConnectionRow.conn_id == conn_id))
    if result.rowcount == 0:  # type: ignore[attr-defined]
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
    if not conn_id or len(conn_id) > ID_LEN or not _CONN_ID.match(conn_id):
        raise InvalidArgument(
            f"invalid conn_id {conn_id!r}: use 1-{ID_LEN} letters, digits and ._-#!@$%^&*()[]{{}}:"
        )


def parse_port(value: Any) -> int | None:
    """A port number from text or int; ``InvalidArgument`` when it is not one."""
    if value is None or value == "":
        return None
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"invalid port {value!r}: expected a number") from None
    if not 0 < port < 65536:
        raise InvalidArgument(f"invalid port {port}: expected 1-65535")
    return port


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


def _parse_uri(conn_id: str, uri: str, description: str | None) -> Connection:
    schemes = uri.count("://")
    if schemes == 0 or schemes > 2:
        raise InvalidArgument(f"invalid connection URI {_mask_uri(uri)}: expected scheme://...")
    host_with_protocol = schemes == 2
    parts = urlsplit(uri)
    conn_type = parts.scheme
    if not conn_type:
        raise InvalidArgument(f"invalid connection URI {_mask_uri(uri)}: no scheme")
    rest = uri.replace(f"{conn_type}://", "" if host_with_protocol else "//", 1)
    if host_with_protocol:
        inner = rest.split("://", 1)[0]
        if "@" in inner or ":" in inner:
            raise InvalidArgument(f"invalid connection URI {_mask_uri(uri)}")
    try:
        parts = urlsplit(rest)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"invalid connection URI {_mask_uri(uri)}: {exc}") from exc
    host = _hostname(parts)
    if host_with_protocol and parts.scheme and host:
        host = f"{parts.scheme}://{host}"
    schema = unquote(parts.path[1:]) if parts.path[1:] else None
    extra = None
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)
    return Connection(
        conn_id=conn_id,
        conn_type=_normalize_conn_type(conn_type),
        host=host or None,
        schema=schema,
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        port=port,
        extra=extra,
        description=description,
    )


def _normalize_conn_type(conn_type: str) -> str:
    # Airflow's rule: URIs say postgresql:// and google-cloud-platform://, types do not.
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def _hostname(parts: Any) -> str:
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        # A quoted slash (e.g. a Unix socket path): take the netloc as written.
        hostname = parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


def _flat_query(extra: dict[str, Any]) -> str | None:
    if not all(isinstance(v, str) for v in extra.values()):
        return None
    return urlencode(extra)


def _mask_uri(uri: str) -> str:
    """The URI with any password replaced, for error messages."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", uri)


# -- the REST API's view: pages, masked values, partial updates ------------------------------

ORDER_COLUMNS: Mapping[str, Any] = {
    "conn_id": models.ConnectionRow.conn_id, "connection_id": models.ConnectionRow.conn_id,
    "id": models.ConnectionRow.id, "conn_type": models.ConnectionRow.conn_type,
    "description": models.ConnectionRow.description, "host": models.ConnectionRow.host,
    "port": models.ConnectionRow.port,
}

#: Fields of a connection a partial update may change.
UPDATABLE_FIELDS = ("conn_type", "description", "host", "schema", "login", "password", "port", "extra")


def list_connections_page(
    session: Session, *, cipher: SecretCipher, conn_id_pattern: str | None = None,
    conn_id_prefix_pattern: str | None = None, order_by: str | Sequence[str] | None = None, page: paging.Page,
) -> tuple[list[Connection], int]:
    """One page of connections, decrypted (show them ``masked()``), by id by default."""
    query = paging.where_all(select(models.ConnectionRow.conn_id), [
        paging.pattern(models.ConnectionRow.conn_id, conn_id_pattern),
        paging.prefix(models.ConnectionRow.conn_id, conn_id_prefix_pattern),
    ])
    order = paging.order_clauses(order_by, ORDER_COLUMNS, default=["id"], tie_breaker=models.ConnectionRow.id)
    ids, total = paging.paginate(session, query, order, page)
    return [get_connection(session, conn_id, cipher=cipher) for conn_id in ids], total


def update_connection(session: Session, conn_id: str, changes: Mapping[str, Any], *, cipher: SecretCipher) -> Connection:
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
    row = session.scalar(select(models.ConnectionRow).where(models.ConnectionRow.conn_id == conn_id))
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
    if not extra:
        return extra
    given = json.loads(extra)
    if not any(value == MASK for value in given.values()):
        return extra
    stored = current.extra_dejson
    return json.dumps({key: (stored.get(key) if value == MASK and key in stored else value) for key, value in given.items()})
