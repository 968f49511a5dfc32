"""``ExternalTaskSensor``: wait for a task (or a whole run) of another DAG to reach a state.

The sensor looks at the other DAG's run at the same logical date as this run's (shifted by
``execution_delta``, or computed by ``execution_date_fn``). It asks the scheduler, as a task
process has no database (see ``tradewind.operators.supervisor_comms``); under ``dags test`` it fails
saying that it needs the scheduler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tradewind.exceptions import DagDefinitionError, FailTask, SkipTask, TradewindError
from tradewind.operators import supervisor_comms
from tradewind.operators.trigger_dagrun import needs_scheduler
from tradewind.sdk import timezone
from tradewind.sdk.context import Context
from tradewind.sdk.states import DagRunState, TaskInstanceState
from tradewind.sensors.base import BaseSensorOperator

_TASK_STATES = {state.value for state in TaskInstanceState}
_RUN_STATES = {state.value for state in DagRunState}


def _as_values(values: Sequence[Any] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [value.value if hasattr(value, "value") else str(value) for value in values]


class ExternalTaskSensor(BaseSensorOperator):
    """Succeeds when ``external_task_id`` (or each of ``external_task_ids``, or every task of
    ``external_task_group_id``) of ``external_dag_id`` is in ``allowed_states`` for the logical
    date(s) looked at; with no task given, when the whole run is.

    ``failed_states`` end the sensor with an error (skipped with ``soft_fail``);
    ``skipped_states`` skip it. ``execution_delta`` looks at ``logical_date - execution_delta``;
    ``execution_date_fn(logical_date, ...)`` may return one date or a list of them (it may also
    ask for context values by name). ``check_existence`` fails at once when the DAG or task
    does not exist.
    """

    template_fields: Sequence[str] = (
        "external_dag_id",
        "external_task_id",
        "external_task_ids",
        "external_task_group_id",
    )
    ui_color = "#4db7db"

    def __init__(
        self,
        *,
        external_dag_id: str,
        external_task_id: str | None = None,
        external_task_ids: Sequence[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Sequence[str] | None = None,
        skipped_states: Sequence[str] | None = None,
        failed_states: Sequence[str] | None = None,
        execution_delta: timedelta | None = None,
        execution_date_fn: Callable[..., Any] | None = None,
        check_existence: bool = False,
        poll_interval: float = 2.0,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=deferrable, **kwargs)
        if external_task_id is not None and external_task_ids is not None:
            raise DagDefinitionError(
                f"task {self.task_id!r}: give external_task_id or external_task_ids, not both"
            )
        if external_task_group_id is not None and (
            external_task_id is not None or external_task_ids is not None
        ):
            raise DagDefinitionError(
                f"task {self.task_id!r}: external_task_group_id cannot be combined with "
                "external_task_id(s)"
            )
        if execution_delta is not None and execution_date_fn is not None:
            raise DagDefinitionError(
                f"task {self.task_id!r}: give execution_delta or execution_date_fn, not both"
            )
        if execution_delta is not None and not isinstance(execution_delta, timedelta):
            raise DagDefinitionError(f"task {self.task_id!r}: execution_delta must be a timedelta")
        if external_task_ids is not None and isinstance(external_task_ids, str):
            external_task_ids = [external_task_ids]
        task_level = (
            external_task_id is not None
            or external_task_ids is not None
            or external_task_group_id is not None
        )
        self.allowed_states = _as_values(allowed_states) or [
            TaskInstanceState.SUCCESS.value if task_level else DagRunState.SUCCESS.value
        ]
        self.skipped_states = _as_values(skipped_states)
        self.failed_states = _as_values(failed_states)
        valid = _TASK_STATES if task_level else _RUN_STATES
        for name, values in (
            ("allowed_states", self.allowed_states),
            ("skipped_states", self.skipped_states),
            ("failed_states", self.failed_states),
        ):
            unknown = [value for value in values if value not in valid]
            if unknown:
                kind = "task instance" if task_level else "DAG run"
                raise DagDefinitionError(
                    f"task {self.task_id!r}: {name} {unknown} are not {kind} states; expected some "
                    f"of {sorted(valid)}"
                )
        overlap = set(self.allowed_states) & (set(self.failed_states) | set(self.skipped_states))
        if overlap:
            raise DagDefinitionError(
                f"task {self.task_id!r}: states {sorted(overlap)} are both allowed and "
                "failed/skipped"
            )
        self.external_dag_id = external_dag_id
        self.external_task_id = external_task_id
        self.external_task_ids = list(external_task_ids) if external_task_ids is not None else None
        self.external_task_group_id = external_task_group_id
        self.execution_delta = execution_delta
        self.execution_date_fn = execution_date_fn
        self.check_existence = check_existence
        self.poll_interval = poll_interval

    # -- what to look at ----------------------------------------------------------------------
    def _task_ids(self) -> list[str] | None:
        if self.external_task_ids:
            return list(self.external_task_ids)
        if self.external_task_id is not None:
            return [self.external_task_id]
        return None

    def _dates(self, context: Context) -> list[datetime]:
        logical_date = context.get("logical_date")
        if logical_date is None:
            raise FailTask("ExternalTaskSensor needs a run with a logical date")
        if self.execution_delta is not None:
            found: Any = logical_date - self.execution_delta
        elif self.execution_date_fn is not None:
            found = _call_date_fn(self.execution_date_fn, logical_date, context)
        else:
            found = logical_date
        values = found if isinstance(found, (list, tuple)) else [found]
        dates = []
        for value in values:
            if not isinstance(value, datetime):
                raise FailTask(f"execution_date_fn must return datetimes, got {value!r}")
            dates.append(timezone.coerce_utc(value))
        return dates

    # -- the poke -----------------------------------------------------------------------------
    def poke(self, context: Context) -> bool:
        if not supervisor_comms.available():
            raise needs_scheduler(
                "ExternalTaskSensor", f"it reads the state of DAG {self.external_dag_id!r}"
            )
        dates = self._dates(context)
        task_ids = self._task_ids()
        group = self.external_task_group_id
        what = f"task group {group!r}" if group else f"tasks {task_ids}" if task_ids else "the run"
        self.log.info(
            "Poking for %s of DAG %s on %s",
            what,
            self.external_dag_id,
            ", ".join(date.isoformat() for date in dates),
        )
        reply = supervisor_comms.request(
            {
                "op": "task_states",
                "dag_id": self.external_dag_id,
                "logical_dates": [d.isoformat() for d in dates],
                "task_ids": task_ids,
                "task_group_id": group,
            }
        )
        if self.check_existence:
            if not reply.get("dag_exists"):
                raise FailTask(f"The external DAG {self.external_dag_id} does not exist.")
            if reply.get("missing_task_ids"):
                raise FailTask(
                    f"The external task(s) {reply['missing_task_ids']} in DAG "
                    f"{self.external_dag_id} do not exist."
                )
        runs = reply.get("runs") or []
        task_level = task_ids is not None or group is not None

        def counts(states: list[str]) -> int:
            """How many (date, task) pairs are entirely in
            ``states`` (or the runs, for DAG level)."""
            wanted = set(states)
            if not task_level:
                return sum(1 for run in runs if run["state"] in wanted)
            total = 0
            for run in runs:
                for found in run["tasks"].values():
                    if found and all(state in wanted for state in found):
                        total += 1
            return total

        def any_in(states: list[str]) -> bool:
            wanted = set(states)
            if not wanted:
                return False
            if not task_level:
                return any(run["state"] in wanted for run in runs)
            return any(
                state in wanted
                for run in runs
                for found in run["tasks"].values()
                for state in found
            )

        if any_in(self.failed_states):
            message = (
                f"Some of the external tasks {task_ids or group} in DAG {self.external_dag_id} "
                "failed."
                if task_level
                else f"The external DAG {self.external_dag_id} failed."
            )
            if self.soft_fail:
                raise SkipTask(message)
            raise TradewindError(message)
        if any_in(self.skipped_states):
            raise SkipTask(
                f"The external {'tasks' if task_level else 'DAG'} of {self.external_dag_id} "
                "reached a skipped state."
            )
        expected = len(dates)
        if task_level:
            expected *= len(task_ids or []) if group is None else max(1, _group_size(runs))
        done = counts(self.allowed_states)
        return done >= expected and (not task_level or group is None or _group_size(runs) > 0)


def _group_size(runs: list[dict[str, Any]]) -> int:
    return max((len(run["tasks"]) for run in runs), default=0)


def _call_date_fn(function: Callable[..., Any], logical_date: datetime, context: Context) -> Any:
    """Airflow calls ``execution_date_fn(logical_date, **context)``, keeping the names it takes."""
    parameters = list(inspect.signature(function).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return function(
            logical_date, **{k: v for k, v in context.items() if k != parameters[0].name}
        )
    names = {p.name for p in parameters[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return function(logical_date, **{k: v for k, v in context.items() if k in names})
