"""``BaseHook``: what hooks written for Airflow derive from, to find their connection."""

from __future__ import annotations

import logging

from tradewind.sdk.connection import Connection


class BaseHook:
    """A hook finds its connection by id (``get_connection``) and logs under its class name."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection as the running task sees it (``Connection.get``)."""
        return Connection.get(conn_id)

    @property
    def log(self) -> logging.Logger:
        return logging.getLogger(f"{type(self).__module__}.{type(self).__qualname__}")
