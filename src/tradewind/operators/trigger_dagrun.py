"""``TriggerDagRunOperator``: create a run of another DAG, and optionally wait for it to end.

The task process has no database: it asks the scheduler to create the run (see
``tradewind.operators.supervisor_comms``). Under ``tradewind dags test`` there is no scheduler, so
the task fails with a message saying so.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tradewind.exceptions import DagDefinitionError, FailTask, SkipTask, TradewindError
from tradewind.operators import supervisor_comms
from tradewind.sdk import timezone
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import Context
from tradewind.sdk.states import DagRunState

#: XCom keys the operator pushes (Airflow's names; the second as Airflow 2 spelled it).
XCOM_RUN_ID = "trigger_run_id"
XCOM_LOGICAL_DATE_ISO = "trigger_logical_date_iso"
XCOM_EXECUTION_DATE_ISO = "trigger_execution_date_iso"

_RUN_STATES = {state.value for state in DagRunState}


class DagIsPaused(TradewindError):
    """The DAG to trigger is paused."""


class DagRunAlreadyExists(TradewindError):
    """The DAG already has a run with this run id or logical date."""


def _states(name: str, values: Sequence[Any] | None, default: list[str], task_id: str) -> list[str]:
    if values is None:
        return list(default)
    if isinstance(values, (str, DagRunState)):
        values = [values]
    found = [value.value if isinstance(value, DagRunState) else str(value) for value in values]
    unknown = [value for value in found if value not in _RUN_STATES]
    if unknown:
        raise DagDefinitionError(
            f"task {task_id!r}: {name} has unknown DAG run states {unknown}; expected some of "
            f"{sorted(_RUN_STATES)}"
        )
    return found


def needs_scheduler(operator: str, what: str) -> FailTask:
    return FailTask(
        f"{operator} needs the scheduler ({what}), so it cannot run under 'tradewind dags test' or "
        "'tradewind tasks test'; trigger the DAG and let the scheduler run it"
    )


class TriggerDagRunOperator(BaseOperator):
    """Trigger a run of ``trigger_dag_id`` with ``conf``; with ``wait_for_completion``, poke its
    state every ``poke_interval`` seconds until it is in ``allowed_states`` (the task succeeds)
    or ``failed_states`` (the task fails).

    ``reset_dag_run`` clears an existing run with the same run id (or logical date) and runs it
    again instead of failing; ``skip_when_already_exists`` skips this task then. The triggered
    run's id goes to XCom as ``trigger_run_id``.
    """

    template_fields: Sequence[str] = ("trigger_dag_id", "trigger_run_id", "logical_date", "conf")
    template_fields_renderers = {"conf": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        trigger_dag_id: str,
        trigger_run_id: str | None = None,
        conf: dict[str, Any] | None = None,
        logical_date: str | datetime | None = None,
        reset_dag_run: bool = False,
        wait_for_completion: bool = False,
        poke_interval: float | timedelta = 60,
        allowed_states: Sequence[str | DagRunState] | None = None,
        failed_states: Sequence[str | DagRunState] | None = None,
        skip_when_already_exists: bool = False,
        fail_when_dag_is_paused: bool = False,
        deferrable: bool = False,
        execution_date: str | datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not trigger_dag_id or not isinstance(trigger_dag_id, str):
            raise DagDefinitionError(
                f"task {self.task_id!r}: trigger_dag_id must be a DAG id, got {trigger_dag_id!r}"
            )
        if conf is not None and not isinstance(conf, dict):
            raise DagDefinitionError(
                f"task {self.task_id!r}: conf must be a dict, got {type(conf).__name__}"
            )
        self.trigger_dag_id = trigger_dag_id
        self.trigger_run_id = trigger_run_id
        self.conf = conf
        self.logical_date = logical_date if logical_date is not None else execution_date
        self.reset_dag_run = reset_dag_run
        self.wait_for_completion = wait_for_completion
        seconds = (
            poke_interval.total_seconds() if isinstance(poke_interval, timedelta) else poke_interval
        )
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
            raise DagDefinitionError(
                f"task {self.task_id!r}: poke_interval must be a positive number of seconds"
            )
        self.poke_interval = float(seconds)
        self.allowed_states = _states(
            "allowed_states", allowed_states, [DagRunState.SUCCESS.value], self.task_id
        )
        self.failed_states = _states(
            "failed_states", failed_states, [DagRunState.FAILED.value], self.task_id
        )
        self.skip_when_already_exists = skip_when_already_exists
        self.fail_when_dag_is_paused = fail_when_dag_is_paused
        self.deferrable = deferrable

    def _logical_date(self) -> datetime | None:
        value = self.logical_date
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return timezone.coerce_utc(value)
        try:
            return timezone.parse(str(value))
        except ValueError as exc:
            raise FailTask(f"logical_date {value!r} is not an ISO 8601 date: {exc}") from None

    def execute(self, context: Context) -> None:
        if not supervisor_comms.available():
            raise needs_scheduler(
                "TriggerDagRunOperator", f"it creates a run of DAG {self.trigger_dag_id!r}"
            )
        if self.conf is not None and not isinstance(self.conf, dict):
            raise FailTask(f"conf must render to a dict, got {type(self.conf).__name__}")
        logical_date = self._logical_date()
        try:
            reply = supervisor_comms.request(
                {
                    "op": "trigger_dag_run",
                    "dag_id": self.trigger_dag_id,
                    "run_id": self.trigger_run_id or None,
                    "logical_date": logical_date.isoformat() if logical_date else None,
                    "conf": dict(self.conf or {}),
                    "reset_dag_run": bool(self.reset_dag_run),
                    "fail_when_dag_is_paused": bool(self.fail_when_dag_is_paused),
                }
            )
        except supervisor_comms.SupervisorRequestFailed as exc:
            if exc.error_type == "already_exists":
                if self.skip_when_already_exists:
                    raise SkipTask(
                        f"DAG {self.trigger_dag_id!r} already has this run; skipping"
                    ) from None
                raise DagRunAlreadyExists(str(exc)) from None
            if exc.error_type == "paused":
                raise DagIsPaused(str(exc)) from None
            raise
        run_id = reply["run_id"]
        verb = "Reset" if reply.get("already_existed") else "Triggered"
        self.log.info("%s run %s of DAG %s", verb, run_id, self.trigger_dag_id)
        ti = context["ti"]
        ti.xcom_push(XCOM_RUN_ID, run_id)
        if reply.get("logical_date"):
            ti.xcom_push(XCOM_LOGICAL_DATE_ISO, reply["logical_date"])
            ti.xcom_push(XCOM_EXECUTION_DATE_ISO, reply["logical_date"])
        if self.wait_for_completion:
            self._wait(run_id)

    def _wait(self, run_id: str) -> None:
        if self.deferrable:
            self.log.info(
                "deferrable=True: Tradewind waits in the task process instead of deferring"
            )
        while True:
            time.sleep(self.poke_interval)
            reply = supervisor_comms.request(
                {"op": "dag_run_state", "dag_id": self.trigger_dag_id, "run_id": run_id}
            )
            state = reply.get("state")
            if not reply.get("found"):
                raise TradewindError(
                    f"run {run_id!r} of DAG {self.trigger_dag_id!r} no longer exists"
                )
            self.log.info(
                "Waiting for DAG %s run %s to finish: it is %s", self.trigger_dag_id, run_id, state
            )
            if state in self.failed_states:
                raise TradewindError(f"{self.trigger_dag_id} failed with failed states {state}")
            if state in self.allowed_states:
                self.log.info("%s finished with allowed state %s", self.trigger_dag_id, state)
                return
