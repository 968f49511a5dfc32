"""The main function of a DAG callback process: run ``on_success_callback`` or
``on_failure_callback`` of a finished DAG run, then exit.

Forked by an executor like a task process, for the same reasons: the callback is user code,
so it runs in its own process, from the DAG version the run was pinned to, and cannot take
the scheduler down. Its output and any exception it raises go to the run's callback log
(``dag_id=D/run_id=R/dag_callbacks.log``); the exit code says whether every callback returned.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback
from typing import Any, NoReturn

from tradewind.dag_processing.source_loader import load_dag_from_source
from tradewind.exceptions import TaskTerminated
from tradewind.operators import supervisor_comms
from tradewind.runner import context_builder, xcom_codec
from tradewind.runner.parent_death import die_with_parent
from tradewind.runner.parent_link import ParentLink
from tradewind.runner.protocol import LineChannel
from tradewind.runner.runtime import RuntimeTaskInstance
from tradewind.runner.task_process import lookups, redirect_output
from tradewind.runner.workload import CallbackWorkload
from tradewind.runner.xcom_store import MISSING, XComStore
from tradewind.sdk.context import Context, current_context
from tradewind.sdk.dag import DAG

log = logging.getLogger("tradewind.dag_callback")


class _ReadOnlyXComs(XComStore):
    """XComs of the run, read through the parent; a callback cannot push."""

    def __init__(self, link: ParentLink) -> None:
        self.link = link

    def set(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str, value: Any
    ) -> None:
        log.warning("a DAG callback cannot push XComs; %r is dropped", key)

    def get(self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str) -> Any:
        reply = self.link.ask_or_raise(
            {
                "op": "xcom_get",
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": task_id,
                "map_index": map_index,
                "key": key,
            }
        )
        return MISSING if reply.get("value") is None else xcom_codec.decode(reply["value"])

    def get_mapped(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[Any]:
        reply = self.link.ask_or_raise(
            {
                "op": "xcom_get_mapped",
                "dag_id": dag_id,
                "run_id": run_id,
                "task_id": task_id,
                "key": key,
            }
        )
        return [xcom_codec.decode(value) for value in reply.get("values", [])]


def _on_sigterm(signum: int, frame: Any) -> None:
    raise TaskTerminated("the DAG callback process received SIGTERM")


def build_context(dag: DAG, workload: CallbackWorkload, link: ParentLink) -> Context:
    """The context Airflow gives DAG callbacks: a task context of the relevant task instance
    (the last failed one, or the last one to finish) plus ``reason``."""
    variable, connection = lookups(link)
    try:
        params = dag.params.resolve(workload.run.conf)
    except (
        Exception
    ):  # the run was created with this conf; a later schema change must not hide the callback
        params = dict(workload.run.conf)
    task_id = workload.ti_task_id if workload.ti_task_id in dag.task_dict else None
    if task_id is None and dag.task_dict:
        task_id = next(iter(dag.task_dict))
    if task_id is None:
        context = Context(
            dag=dag,
            dag_run=workload.run,
            run_id=workload.run_id,
            params=params,
            conf=workload.run.conf,
            logical_date=workload.run.logical_date,
        )
    else:
        ti = RuntimeTaskInstance(
            task=dag.task_dict[task_id],
            run=workload.run,
            xcoms=_ReadOnlyXComs(link),
            map_index=workload.ti_map_index,
            try_number=workload.ti_try_number,
            state=workload.ti_state or "none",
        )
        context = context_builder.build_context(
            ti=ti,
            run=workload.run,
            params=params,
            variable_lookup=variable,
            connection_lookup=connection,
        )
    context["reason"] = workload.reason
    return context


def run(
    workload: CallbackWorkload, channel: LineChannel, *, parent_pid: int | None = None
) -> NoReturn:
    """Run the callbacks and exit: 0 when all returned, 1 when one raised or could not load."""
    code = 1
    try:
        die_with_parent(expected_parent=parent_pid)
        signal.signal(signal.SIGTERM, _on_sigterm)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        redirect_output(workload.log_path)
        link = ParentLink(channel)
        supervisor_comms.install(link.ask)
        code = _execute(workload, link)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        os._exit(code)


def _execute(workload: CallbackWorkload, link: ParentLink) -> int:
    log.info("Running %s (run %s), pid %d", workload.describe(), workload.run.run_id, os.getpid())
    try:
        dag = load_dag_from_source(workload.source_code, workload.fileloc, workload.dag_id)
    except Exception:
        log.exception("Could not load DAG %s for its %s", workload.dag_id, workload.kind)
        return 1
    callbacks = getattr(dag, workload.kind, None)
    if not callbacks:
        log.info("DAG %s has no %s in the version the run used", workload.dag_id, workload.kind)
        return 0
    try:
        context = build_context(dag, workload, link)
    except Exception:
        log.exception("Could not build the context of the %s", workload.kind)
        return 1
    code = 0
    with current_context(context):
        for callback in callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]:
            name = getattr(callback, "__qualname__", repr(callback))
            try:
                callback(context)
                log.info("%s %s returned", workload.kind, name)
            except Exception:
                log.exception("%s %s raised", workload.kind, name)
                code = 1
    return code
