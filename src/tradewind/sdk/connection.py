"""``Connection``: how a task reaches an external system, in Airflow's URI and JSON forms.

Pure Python, so task processes and DAG files use it without the metastore's libraries.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from tradewind.exceptions import ConnectionNotFound, InvalidArgument, TradewindError
from tradewind.sdk import secrets_masker
from tradewind.sdk.sensitive import MASK

#: Query parameter that carries a non-flat extra verbatim in a URI (Airflow's name).
EXTRA_KEY = "__extra__"
_JSON_FIELDS = frozenset(
    {"conn_type", "description", "host", "schema", "login", "password", "port", "extra"}
)


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
    def get(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` as the running task sees it (the environment's
        ``AIRFLOW_CONN_*``/``TRADEWIND_CONN_*`` first, then the metastore through the task's
        supervisor), as Airflow's ``Connection.get`` and ``BaseHook.get_connection``; outside
        a running task (at a DAG file's top level) it fails saying so."""
        from tradewind.sdk.context import _current

        context = _current.get()
        if context is None:
            raise TradewindError(
                f"Connection.get({conn_id!r}) outside a running task: Tradewind reads "
                "connections in tasks (or templates: {{ conn." + conn_id + " }}), not at a "
                "DAG file's top level"
            )
        found = context["conn"].get(conn_id)
        if found is None:
            raise ConnectionNotFound(f"The conn_id `{conn_id}` isn't defined")
        return cast(Connection, found)

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
        protocol, host = (
            self.host.split("://", 1) if self.host and "://" in self.host else (None, self.host)
        )
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
            if (
                query is not None
                and self.extra_dejson
                and dict(parse_qsl(query, keep_blank_values=True)) == self.extra_dejson
            ):
                uri += separator + query
            else:
                uri += separator + urlencode({EXTRA_KEY: self.extra})
        return uri

    def masked(self) -> Connection:
        """A copy safe to show: the password, and in the extra the values under sensitive keys
        at any depth (``{"auth": {"api_token": ...}}``), replaced by ``***``."""
        extra = self.extra
        if extra:
            try:
                parsed = json.loads(extra)
            except json.JSONDecodeError:
                parsed = None  # not JSON: nothing has a name to go by
            hidden = secrets_masker.hide_sensitive_keys(parsed)
            if hidden != parsed:
                extra = json.dumps(hidden)
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
