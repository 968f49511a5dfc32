"""Answers to task processes' questions, read from the metastore in short read transactions."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.engine import Engine

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.exceptions import ConnectionNotFound, TradewindError
from tradewind.scheduler import xcom_reads
from tradewind.services import connections, variables
from tradewind.services.secrets import SecretCipher


class TaskRequestHandler:
    """``handler(message) -> reply`` for ``xcom_get``, ``xcom_get_mapped``, ``variable_get``, ``connection_get``."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._cipher: SecretCipher | None = None

    @property
    def cipher(self) -> SecretCipher:
        if self._cipher is None:
            self._cipher = SecretCipher.from_settings(self.settings)
        return self._cipher

    def __call__(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        if op == "xcom_get":
            value = self._read(lambda s: xcom_reads.get_encoded(
                s, message["dag_id"], message["run_id"], message["task_id"], int(message["map_index"]), message["key"]))
            return {"value": value}
        if op == "xcom_get_mapped":
            values = self._read(lambda s: xcom_reads.get_mapped_encoded(
                s, message["dag_id"], message["run_id"], message["task_id"], message["key"]))
            return {"values": values}
        if op == "variable_get":
            try:
                value = self._read(lambda s: variables.get_variable(s, message["key"], cipher=self.cipher, default=None))
            except TradewindError as exc:
                return {"error": str(exc)}
            return {"value": value}
        if op == "connection_get":
            try:
                found = self._read(lambda s: connections.get_connection(s, message["conn_id"], cipher=self.cipher))
            except ConnectionNotFound:
                return {"connection": None}
            except TradewindError as exc:
                return {"error": str(exc)}
            return {"connection": dataclasses.asdict(found)}
        return {"error": f"unknown request {op!r}"}

    def _read(self, fn: Any) -> Any:
        return db_engine.run_in_transaction(self.engine, fn, readonly=True)
