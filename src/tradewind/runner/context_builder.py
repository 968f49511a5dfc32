"""The template context of one task try, with Airflow's keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tradewind.runner import masking
from tradewind.runner.runtime import RunInfo, RuntimeTaskInstance
from tradewind.sdk import macros
from tradewind.sdk.context import ConnectionAccessor, Context, VariableAccessor
from tradewind.sdk.templating import FILTERS

VariableLookup = Callable[[str], str | None]
ConnectionLookup = Callable[[str], Any]


def _no_variable(key: str) -> str | None:
    return None


def _no_connection(conn_id: str) -> Any:
    return None


def _masking_variable_lookup(lookup: VariableLookup) -> VariableLookup:
    def variable(key: str) -> str | None:
        value = lookup(key)
        masking.mask_variable(key, value)
        return value

    return variable


def _masking_connection_lookup(lookup: ConnectionLookup) -> ConnectionLookup:
    def connection(conn_id: str) -> Any:
        found = lookup(conn_id)
        masking.mask_connection(found)
        return found

    return connection


def build_context(
    *,
    ti: RuntimeTaskInstance,
    run: RunInfo,
    params: dict[str, Any],
    variable_lookup: VariableLookup = _no_variable,
    connection_lookup: ConnectionLookup = _no_connection,
    test_mode: bool = False,
) -> Context:
    """Everything a template or a callable may ask for by name.

    Every variable and connection read through it registers its secrets with the masker,
    whatever the lookups are (the parent's metastore, the environment), so the try's log and
    rendered fields hide them.
    """
    task = ti.task
    logical_date = run.logical_date
    context = Context(
        dag=task.dag if task.has_dag else None,
        task=task,
        ti=ti,
        task_instance=ti,
        run_id=run.run_id,
        dag_run=run,
        conf=run.conf,
        params=params,
        logical_date=logical_date,
        data_interval_start=run.data_interval_start,
        data_interval_end=run.data_interval_end,
        prev_data_interval_start_success=run.prev_data_interval_start_success,
        prev_data_interval_end_success=run.prev_data_interval_end_success,
        prev_start_date_success=run.prev_start_date_success,
        macros=macros,
        var=VariableAccessor(_masking_variable_lookup(variable_lookup)),
        conn=ConnectionAccessor(_masking_connection_lookup(connection_lookup)),
        test_mode=test_mode,
        map_index=ti.map_index,
        try_number=ti.try_number,
        inlets=[],
        outlets=[],
    )
    if logical_date is not None:
        ds_nodash = FILTERS["ds_nodash"](logical_date)
        context.update(
            ds=FILTERS["ds"](logical_date),
            ds_nodash=ds_nodash,
            ts=FILTERS["ts"](logical_date),
            ts_nodash=FILTERS["ts_nodash"](logical_date),
            ts_nodash_with_tz=FILTERS["ts_nodash_with_tz"](logical_date),
            task_instance_key_str=f"{run.dag_id}__{task.task_id}__{ds_nodash}",
            execution_date=logical_date,
        )
        timetable = task.dag.timetable if task.has_dag else None
        context.update(airflow_2_keys(run, logical_date, timetable))
    return context


def airflow_2_keys(run: RunInfo, logical_date: datetime, timetable: Any = None) -> dict[str, Any]:
    """The context keys Airflow 2 had and its DAGs' templates still use, computed as it did:
    the previous and next logical dates of the schedule (for a run triggered by hand, its own
    logical date), and the day before and after ``ds``."""
    start, end = run.data_interval_start, run.data_interval_end
    next_date = prev_date = logical_date
    if run.run_type != "manual" and start is not None and end is not None:
        next_date, prev_date = end, _previous_logical_date(timetable, start, end)
    ds, ds_nodash = FILTERS["ds"], FILTERS["ds_nodash"]
    tomorrow, yesterday = logical_date + timedelta(days=1), logical_date - timedelta(days=1)
    return {
        "next_execution_date": next_date,
        "prev_execution_date": prev_date,
        "next_ds": ds(next_date),
        "next_ds_nodash": ds_nodash(next_date),
        "prev_ds": ds(prev_date),
        "prev_ds_nodash": ds_nodash(prev_date),
        "tomorrow_ds": ds(tomorrow),
        "tomorrow_ds_nodash": ds_nodash(tomorrow),
        "yesterday_ds": ds(yesterday),
        "yesterday_ds_nodash": ds_nodash(yesterday),
        "prev_execution_date_success": run.prev_data_interval_start_success,
    }


def _previous_logical_date(timetable: Any, start: datetime, end: datetime) -> datetime:
    """The logical date of the schedule's run before the one covering ``[start, end)`` (a
    weekday schedule's Monday follows Friday); one interval back when the schedule says
    nothing."""
    span = end - start
    previous = None
    if timetable is not None and span > timedelta(0):
        window = max(span * 3, timedelta(days=8))
        for info in timetable.iter_intervals(start - window, start - timedelta(microseconds=1)):
            previous = info.logical_date
    return previous or start - span
