"""Answers to task processes' questions, each in its own short transaction.

Reads: ``xcom_get``, ``xcom_get_mapped``, ``variable_get``, ``connection_get``, ``dag_run_state``,
``task_states``. One write: ``trigger_dag_run`` (``TriggerDagRunOperator``), which creates (or
resets) a run and tells the scheduler to look at queued runs at once. The messages are listed
in ``tradewind.operators.supervisor_comms``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.db import engine as db_engine
from tradewind.exceptions import AlreadyExists, ConnectionNotFound, DagNotFound, TradewindError
from tradewind.scheduler import xcom_reads
from tradewind.sdk import timezone
from tradewind.services import clearing, connections, cross_dag, dag_runs, dags, variables
from tradewind.services.secrets import SecretCipher

log = logging.getLogger("tradewind.scheduler")


class TaskRequestHandler:
    """``handler(message) -> reply``; ``on_runs_changed``
    is called after a run was created or reset."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        on_runs_changed: Callable[[], None] | None = None,
        clock: Callable[[], Any] = timezone.utcnow,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.on_runs_changed = on_runs_changed
        self.clock = clock
        self._cipher: SecretCipher | None = None

    @property
    def cipher(self) -> SecretCipher:
        if self._cipher is None:
            self._cipher = SecretCipher.from_settings(self.settings)
        return self._cipher

    def __call__(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        handler = getattr(self, f"_op_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return {"error": f"unknown request {op!r}"}
        try:
            return handler(message)
        except KeyError as exc:
            return {"error": f"request {op!r} lacks field {exc}"}

    # -- reads ------------------------------------------------------------------------------
    def _op_xcom_get(self, message: dict[str, Any]) -> dict[str, Any]:
        value = self._read(
            lambda s: xcom_reads.get_encoded(
                s,
                message["dag_id"],
                message["run_id"],
                message["task_id"],
                int(message["map_index"]),
                message["key"],
            )
        )
        return {"value": value}

    def _op_xcom_get_mapped(self, message: dict[str, Any]) -> dict[str, Any]:
        values = self._read(
            lambda s: xcom_reads.get_mapped_encoded(
                s, message["dag_id"], message["run_id"], message["task_id"], message["key"]
            )
        )
        return {"values": values}

    def _op_variable_get(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            value = self._read(
                lambda s: variables.get_variable(
                    s, message["key"], cipher=self.cipher, default=None
                )
            )
        except TradewindError as exc:
            return {"error": str(exc)}
        return {"value": value}

    def _op_connection_get(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            found = self._read(
                lambda s: connections.get_connection(s, message["conn_id"], cipher=self.cipher)
            )
        except ConnectionNotFound:
            return {"connection": None}
        except TradewindError as exc:
            return {"error": str(exc)}
        return {"connection": dataclasses.asdict(found)}

    def _op_dag_run_state(self, message: dict[str, Any]) -> dict[str, Any]:
        def read(session: Session) -> dict[str, Any]:
            run = cross_dag.find_run(session, message["dag_id"], run_id=message["run_id"])
            if run is None:
                return {"found": False, "state": None, "logical_date": None}
            return {
                "found": True,
                "state": run.state,
                "logical_date": run.logical_date.isoformat() if run.logical_date else None,
            }

        try:
            return self._read(read)
        except TradewindError as exc:
            return {"error": str(exc)}

    def _op_task_states(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            dates = [timezone.parse(value) for value in message.get("logical_dates") or []]
        except ValueError as exc:
            return {"error": f"invalid logical date: {exc}"}
        task_ids = message.get("task_ids")
        try:
            return self._read(
                lambda s: cross_dag.external_states(
                    s,
                    message["dag_id"],
                    dates,
                    task_ids=list(task_ids) if task_ids else None,
                    task_group_id=message.get("task_group_id"),
                )
            )
        except TradewindError as exc:
            return {"error": str(exc)}

    # -- the write --------------------------------------------------------------------------
    def _op_trigger_dag_run(self, message: dict[str, Any]) -> dict[str, Any]:
        dag_id = message["dag_id"]
        raw_date = message.get("logical_date")
        try:
            logical_date = timezone.parse(raw_date) if raw_date else None
        except ValueError as exc:
            return {"error": f"invalid logical_date {raw_date!r}: {exc}"}
        conf = message.get("conf")
        if conf is not None and not isinstance(conf, dict):
            return {"error": f"conf must be a JSON object, got {type(conf).__name__}"}

        def trigger(session: Session) -> dict[str, Any]:
            now = self.clock()
            if (
                message.get("fail_when_dag_is_paused")
                and dags.get_dag_row(session, dag_id).is_paused
            ):
                return {"error": f"DAG {dag_id!r} is paused", "error_type": "paused"}
            existing = cross_dag.find_run(
                session, dag_id, run_id=message.get("run_id"), logical_date=logical_date
            )
            if existing is not None and (
                message.get("run_id") is not None or logical_date is not None
            ):
                if not message.get("reset_dag_run"):
                    return {
                        "error": f"DAG {dag_id!r} already has run {existing.run_id!r}",
                        "error_type": "already_exists",
                        "run_id": existing.run_id,
                    }
                run = clearing.reset_run(session, dag_id, existing.run_id, now=now)
                log.info("Run %s of DAG %s reset by a TriggerDagRunOperator", run.run_id, dag_id)
                return _reply(dag_runs.run_info(session, dag_id, run.run_id), already_existed=True)
            row = dag_runs.trigger(
                session,
                dag_id,
                conf=conf,
                run_id=message.get("run_id"),
                logical_date=logical_date,
                now=now,
                triggered_by="operator",
            )
            log.info("Run %s of DAG %s created by a TriggerDagRunOperator", row.run_id, dag_id)
            return _reply(row, already_existed=False)

        try:
            reply = db_engine.run_in_transaction(self.engine, trigger)
        except AlreadyExists as exc:
            return {"error": str(exc), "error_type": "already_exists"}
        except clearing.ClearConflict as exc:
            return {"error": str(exc), "error_type": "running"}
        except DagNotFound as exc:
            return {"error": str(exc), "error_type": "not_found"}
        except TradewindError as exc:
            return {"error": str(exc)}
        if "error" not in reply and self.on_runs_changed is not None:
            self.on_runs_changed()
        return reply

    def _read(self, fn: Any) -> Any:
        return db_engine.run_in_transaction(self.engine, fn, readonly=True)


def _reply(row: dag_runs.RunInfoRow, *, already_existed: bool) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "state": row.state,
        "already_existed": already_existed,
        "logical_date": row.logical_date.isoformat() if row.logical_date else None,
    }
