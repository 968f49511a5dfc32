"""The template context of one task try, with Airflow's keys."""

from __future__ import annotations

from collections.abc import Callable
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
    return context
