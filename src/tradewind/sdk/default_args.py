"""``default_args``: values for task arguments a task's constructor call left out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tradewind.sdk import definition_context

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.task_group import TaskGroup
    from tradewind.sdk.task_node import TaskNode


def collect_default_args(
    dag: DAG | None, group: TaskGroup | None, explicit: dict[str, Any] | None
) -> dict[str, Any]:
    """The DAG's default_args, overlaid by each enclosing group's, then the task's own."""
    merged: dict[str, Any] = {}
    if dag is not None:
        merged.update(dag.default_args)
    if group is not None:
        merged.update(group.inherited_default_args())
    merged.update(explicit or {})
    return merged


def apply_default_args(cls: type[TaskNode], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Fill, in place, the kwargs the caller left out from the applicable default_args."""
    dag = kwargs.get("dag") or definition_context.current_dag()
    group = kwargs.get("task_group") or definition_context.current_group(dag)
    defaults = collect_default_args(dag, group, kwargs.pop("default_args", None))
    accepted = cls.accepted_params()
    for key, value in defaults.items():
        if key in accepted and key not in kwargs:
            kwargs[key] = value
    return kwargs
