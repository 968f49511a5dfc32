"""Where running tasks find variables and connections outside the metastore.

As in Airflow, ``TRADEWIND_VAR_<KEY>`` / ``TRADEWIND_CONN_<CONN_ID>`` environment variables
(and their ``AIRFLOW_VAR_`` / ``AIRFLOW_CONN_`` spellings) are looked at first; a connection
variable holds a URI or a JSON object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tradewind.sdk.connection import Connection

_VAR_PREFIXES = ("TRADEWIND_VAR_", "AIRFLOW_VAR_")
_CONN_PREFIXES = ("TRADEWIND_CONN_", "AIRFLOW_CONN_")


def environment_variable(key: str, environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    for prefix in _VAR_PREFIXES:
        value = environ.get(prefix + key.upper())
        if value is not None:
            return value
    return None


def environment_connection(
    conn_id: str, environ: Mapping[str, str] | None = None
) -> Connection | None:
    environ = os.environ if environ is None else environ
    for prefix in _CONN_PREFIXES:
        raw = environ.get(prefix + conn_id.upper())
        if raw is None:
            continue
        if raw.lstrip().startswith("{"):
            return Connection.from_json(conn_id, raw)
        return Connection.from_uri(conn_id, raw)
    return None
