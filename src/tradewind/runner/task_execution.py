"""Run one try of one task instance and say how it ended.

This is the single boundary around user code: every exception from templates, callbacks or
``execute`` is caught here, logged with its traceback, and turned into an outcome state.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from tradewind.exceptions import FailTask, RescheduleTask, SkipTask, TaskTerminated, TaskTimeout
from tradewind.runner import context_builder, log_context, rendered_fields
from tradewind.runner.runtime import RunInfo, RuntimeTaskInstance
from tradewind.runner.timeout import execution_timeout
from tradewind.runner.xcom_store import XComStore
from tradewind.sdk import param, states, timezone
from tradewind.sdk.context import Context, current_context
from tradewind.sdk.secrets_masker import masker
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.sdk.xcom_arg import RETURN_VALUE_KEY

log = logging.getLogger("tradewind.task")


@dataclasses.dataclass
class TryOutcome:
    """How a try ended, and what it asks of the rest of the run."""

    state: TIS
    start_date: datetime
    end_date: datetime
    error: str | None = None
    traceback: str | None = None
    reschedule_date: datetime | None = None
    skipped_task_ids: list[str] = dataclasses.field(default_factory=list)
    #: Template fields as rendered (JSON values), secrets masked (``runner.rendered_fields``).
    rendered_fields: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def duration(self) -> float:
        return (self.end_date - self.start_date).total_seconds()


@dataclasses.dataclass(frozen=True)
class TryRequest:
    """Which try of which task instance to run."""

    task: Any  # a TaskNode of the loaded DAG (mapped or not)
    run: RunInfo
    params: dict[str, Any]
    map_index: int = -1
    try_number: int = 1
    max_tries: int = 0
    sensor_start_date: datetime | None = None
    poke_number: int = 0
    test_mode: bool = False


def prepare_operator(task: Any, map_index: int, pull: Callable[[str, str], Any]) -> Any:
    """The operator instance to execute: a copy (rendering changes fields) or the unmapped one."""
    if task.is_mapped:
        expansion = task.resolve_expansion(pull)
        if not 0 <= map_index < len(expansion):
            raise IndexError(
                f"task {task.task_id!r} has {len(expansion)} mapped elements, no map index "
                f"{map_index}"
            )
        return task.unmap(expansion[map_index])
    return copy.copy(task)


def _run_callbacks(callbacks: Any, context: Context, kind: str, task_id: str) -> None:
    if not callbacks:
        return
    for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
        try:
            callback(context)
        except Exception:
            log.exception("the %s callback of task %s raised; continuing", kind, task_id)


def _push_result(ti: RuntimeTaskInstance, operator: Any, result: Any) -> None:
    if result is None or not operator.do_xcom_push:
        return
    if operator.multiple_outputs:
        if not isinstance(result, dict):
            raise TypeError(
                f"task {operator.task_id!r} has multiple_outputs=True, so it must return a dict, "
                f"got {type(result).__name__}"
            )
        for key, value in result.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"task {operator.task_id!r}: multiple_outputs keys must be strings, got {key!r}"
                )
            ti.xcom_push(key, value)
    ti.xcom_push(RETURN_VALUE_KEY, result)


def _check_mapped_over(task: Any, value: Any) -> None:
    """A task whose output another task maps over must return a list or a dict; as in Airflow,
    the producing try fails otherwise (a mapped task instance's own output is not checked)."""
    if task.is_mapped:
        return
    dependant = next(iter(task.iter_mapped_dependants()), None)
    if dependant is None:
        return
    if value is None:
        raise ValueError(
            f"task {dependant.task_id!r} is mapped over the output of task {task.task_id!r}, "
            "which returned nothing; return a list or a dict"
        )
    if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, (Sequence, dict)):
        raise TypeError(
            f"task {dependant.task_id!r} is mapped over the output of task {task.task_id!r}, "
            f"which must be a list or a dict, got {type(value).__name__}"
        )


def _masked_text(text: str | None) -> str | None:
    return masker.redact_text(text) if text else text


def execute_try(
    request: TryRequest,
    xcoms: XComStore,
    *,
    variable_lookup: context_builder.VariableLookup | None = None,
    connection_lookup: context_builder.ConnectionLookup | None = None,
) -> TryOutcome:
    """Run the try in this thread and return its outcome; never raises for task errors."""
    start = timezone.utcnow()
    task = request.task
    label = task.task_id if request.map_index < 0 else f"{task.task_id}[{request.map_index}]"
    token = log_context.current_task_label.set(label)
    try:
        return _execute(request, xcoms, label, start, variable_lookup, connection_lookup)
    finally:
        log_context.current_task_label.reset(token)


def _execute(
    request: TryRequest,
    xcoms: XComStore,
    label: str,
    start: datetime,
    variable_lookup: context_builder.VariableLookup | None,
    connection_lookup: context_builder.ConnectionLookup | None,
) -> TryOutcome:
    task = request.task
    log.info("Starting attempt %s of %s of %s", request.try_number, request.max_tries + 1, label)
    placeholder = RuntimeTaskInstance(
        task=task, run=request.run, xcoms=xcoms, map_index=request.map_index
    )
    operator = task
    ti = placeholder
    context: Context = Context()
    state: TIS
    error: str | None = None
    trace: str | None = None
    reschedule_date: datetime | None = None
    try:
        operator = prepare_operator(
            task, request.map_index, lambda tid, key: placeholder.xcom_pull(task_ids=tid, key=key)
        )
        ti = RuntimeTaskInstance(
            task=operator,
            run=request.run,
            xcoms=xcoms,
            map_index=request.map_index,
            try_number=request.try_number,
            max_tries=request.max_tries,
            start_date=start,
            sensor_start_date=request.sensor_start_date or start,
            poke_number=request.poke_number,
        )
        params = request.params
        if task.params and task.has_dag:
            params = param.resolve_task_params(task.dag.params, task.params, request.run.conf)
        context = context_builder.build_context(
            ti=ti,
            run=request.run,
            params=params,
            test_mode=request.test_mode,
            **({"variable_lookup": variable_lookup} if variable_lookup else {}),
            **({"connection_lookup": connection_lookup} if connection_lookup else {}),
        )
        with current_context(context):
            operator.render_template_fields(context)
            _run_callbacks(operator.on_execute_callback, context, "execute", label)
            with execution_timeout(operator.execution_timeout, label):
                try:
                    operator.pre_execute(context)
                    result = operator.execute(context)
                    operator.post_execute(context, result)
                except (TaskTimeout, TaskTerminated):
                    operator.on_kill()
                    raise
            _push_result(ti, operator, result)
            _check_mapped_over(task, result if operator.do_xcom_push else None)
        state = TIS.SUCCESS
    except SkipTask as exc:
        state, error = TIS.SKIPPED, str(exc) or "skipped"
        log.info("Skipping task %s: %s", label, error)
    except RescheduleTask as exc:
        state, reschedule_date = TIS.UP_FOR_RESCHEDULE, exc.reschedule_date
        log.info("Rescheduling task %s to %s", label, exc.reschedule_date.isoformat())
    except FailTask as exc:
        state, error, trace = TIS.FAILED, str(exc) or type(exc).__name__, traceback.format_exc()
        log.error("Task %s failed without retrying: %s", label, error)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        error = f"{type(exc).__name__}: {exc}"
        trace = traceback.format_exc()
        log.error("Task failed with exception\n%s", trace.rstrip())
        state = states.after_failed_try(
            request.try_number,
            request.max_tries,
            retryable=bool(operator.retries) and not isinstance(exc, KeyboardInterrupt),
        )
        context.setdefault("exception", exc)
    end = timezone.utcnow()
    # Masked last: a secret registered while the task ran is hidden too.
    outcome = TryOutcome(
        state=state,
        start_date=start,
        end_date=end,
        error=_masked_text(error),
        traceback=_masked_text(trace),
        reschedule_date=reschedule_date,
        skipped_task_ids=list(ti.skipped_task_ids),
        rendered_fields=rendered_fields.serialize(operator) if operator is not task else {},
    )
    _finish(operator, context, outcome, label, request)
    return outcome


def _finish(
    operator: Any, context: Context, outcome: TryOutcome, label: str, request: TryRequest
) -> None:
    verb = {
        TIS.SUCCESS: "SUCCESS",
        TIS.FAILED: "FAILED",
        TIS.SKIPPED: "SKIPPED",
        TIS.UP_FOR_RETRY: "UP_FOR_RETRY",
        TIS.UP_FOR_RESCHEDULE: "UP_FOR_RESCHEDULE",
    }[outcome.state]
    log.info(
        "Marking task as %s. dag_id=%s, task_id=%s, run_id=%s, map_index=%s, start_date=%s, "
        "end_date=%s",
        verb,
        request.run.dag_id,
        operator.task_id,
        request.run.run_id,
        request.map_index,
        outcome.start_date.isoformat(),
        outcome.end_date.isoformat(),
    )
    if not context:
        return
    if outcome.state is TIS.SUCCESS:
        _run_callbacks(operator.on_success_callback, context, "success", label)
    elif outcome.state is TIS.FAILED:
        _run_callbacks(operator.on_failure_callback, context, "failure", label)
    elif outcome.state is TIS.UP_FOR_RETRY:
        _run_callbacks(operator.on_retry_callback, context, "retry", label)
    elif outcome.state is TIS.SKIPPED:
        _run_callbacks(operator.on_skipped_callback, context, "skipped", label)
