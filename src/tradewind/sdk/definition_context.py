"""The DAG and task group that tasks created right now belong to, and what DAGs created right
now take for what their file leaves unset.

``with DAG(...)`` and ``with TaskGroup(...)`` push themselves here; operators look here when
they are created without an explicit ``dag=``/``task_group=``. Tasks created with no DAG at all
are remembered, so the DAG loader can report them with the line that created them.

``DagFileDefaults`` are Airflow's ``[core] default_timezone``, ``max_active_runs_per_dag`` and
``max_active_tasks_per_dag``: the process that imports DAG files reads its settings and sets
them around the import (``file_defaults``), so the SDK itself never reads configuration.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.task_group import TaskGroup

_dag_stack: list[DAG] = []
_group_stack: list[TaskGroup] = []
_orphan_tasks: dict[int, Any] = {}
_loaded_dags: list[DAG] = []


@dataclasses.dataclass(frozen=True)
class DagFileDefaults:
    """What a DAG takes when its file does not say: the zone of naive datetimes (start and end
    dates, and the zone cron schedules are evaluated in) and the DAG's run and task limits."""

    timezone: tzinfo = UTC
    max_active_runs: int = 16
    max_active_tasks: int = 16


_defaults = DagFileDefaults()


def current_defaults() -> DagFileDefaults:
    return _defaults


@contextlib.contextmanager
def file_defaults(defaults: DagFileDefaults) -> Iterator[None]:
    """DAGs and tasks created inside the block take ``defaults`` for what they leave unset."""
    global _defaults
    previous, _defaults = _defaults, defaults
    try:
        yield
    finally:
        _defaults = previous


def push_dag(dag: DAG) -> None:
    _dag_stack.append(dag)


def pop_dag() -> DAG:
    return _dag_stack.pop()


def current_dag() -> DAG | None:
    return _dag_stack[-1] if _dag_stack else None


def push_group(group: TaskGroup) -> None:
    _group_stack.append(group)


def pop_group() -> TaskGroup:
    return _group_stack.pop()


def current_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open group that belongs to ``dag`` (or the DAG's root group)."""
    for group in reversed(_group_stack):
        if group.dag is dag:
            return group
    return dag.task_group if dag is not None else None


def note_orphan(task: Any) -> None:
    _orphan_tasks[id(task)] = task


def adopt(task: Any) -> None:
    _orphan_tasks.pop(id(task), None)


def take_orphans() -> list[Any]:
    """Tasks created without a DAG since the last call (and forget them)."""
    orphans = list(_orphan_tasks.values())
    _orphan_tasks.clear()
    return orphans


def note_dag_created(dag: DAG) -> None:
    _loaded_dags.append(dag)


def take_created_dags() -> list[DAG]:
    """DAG objects created since the last call (and forget them)."""
    dags = list(_loaded_dags)
    _loaded_dags.clear()
    return dags
