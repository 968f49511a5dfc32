"""``TaskGroup`` and ``@task_group``: named groups of tasks, shown collapsible in the UI.

Tasks created inside a group get the group id as a prefix (``group.task``) unless
``prefix_group_id=False``. ``group >> other`` links the group's leaves to ``other``;
``other >> group`` links ``other`` to the group's roots.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tradewind.exceptions import DagDefinitionError, DuplicateTaskIdError
from tradewind.sdk import definition_context
from tradewind.sdk.dependencies import DependencyMixin
from tradewind.sdk.task_node import TaskNode, validate_key

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG


class TaskGroup(DependencyMixin):
    """A group of tasks (and nested groups) inside one DAG."""

    def __init__(
        self,
        group_id: str | None,
        *,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
    ) -> None:
        self.children: dict[str, TaskNode | TaskGroup] = {}
        self.default_args = dict(default_args or {})
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.prefix_group_id = prefix_group_id
        self._used_group_ids: set[str] = set()
        if group_id is None:  # the root group of a DAG
            if parent_group is not None:
                raise DagDefinitionError("only a DAG's root task group may have no group_id")
            self.dag = dag
            self.parent_group = None
            self._group_id: str | None = None
            return
        validate_key("group_id", group_id)
        dag = (
            dag or (parent_group.dag if parent_group else None) or definition_context.current_dag()
        )
        if dag is None:
            raise DagDefinitionError(f"task group {group_id!r} was created outside any DAG")
        parent_group = parent_group or definition_context.current_group(dag)
        self.dag = dag
        self.parent_group = parent_group
        self._group_id = parent_group.child_id(group_id) if parent_group else group_id
        if add_suffix_on_collision:
            self._group_id = self._unique_id(self._group_id)
        if self._group_id in dag.task_group.used_group_ids or self._group_id in dag.task_dict:
            raise DuplicateTaskIdError(
                f"task group id {self._group_id!r} is already used in DAG {dag.dag_id!r}"
            )
        dag.task_group.used_group_ids.add(self._group_id)
        if parent_group is not None:
            parent_group.children[self._group_id] = self

    def _unique_id(self, candidate: str) -> str:
        used = self.dag.task_group.used_group_ids  # type: ignore[union-attr]  # groups live in a DAG
        if candidate not in used:
            return candidate
        base = (
            candidate.rsplit("__", 1)[0] if candidate.rsplit("__", 1)[-1].isdigit() else candidate
        )
        for number in itertools.count(1):
            name = f"{base}__{number}"
            if name not in used:
                return name
        raise AssertionError("unreachable")

    @property
    def used_group_ids(self) -> set[str]:
        return self._used_group_ids

    @property
    def group_id(self) -> str | None:
        return self._group_id

    @property
    def label(self) -> str | None:
        if self._group_id is None or self.parent_group is None or not self.parent_group.group_id:
            return self._group_id
        prefix = self.parent_group.group_id + "."
        return (
            self._group_id[len(prefix) :] if self._group_id.startswith(prefix) else self._group_id
        )

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    def child_id(self, label: str) -> str:
        if self._group_id and self.prefix_group_id:
            return f"{self._group_id}.{label}"
        if self.parent_group is not None:
            return self.parent_group.child_id(label)
        return label

    def add_child(self, node: TaskNode | TaskGroup) -> None:
        key = node.task_id if isinstance(node, TaskNode) else node.group_id
        self.children[str(key)] = node

    def inherited_default_args(self) -> dict[str, Any]:
        chain: list[TaskGroup] = []
        group: TaskGroup | None = self
        while group is not None:
            chain.append(group)
            group = group.parent_group
        merged: dict[str, Any] = {}
        for group in reversed(chain):
            merged.update(group.default_args)
        return merged

    def iter_tasks(self) -> Iterator[TaskNode]:
        """Every task in this group and its subgroups."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child.iter_tasks()
            else:
                yield child

    def iter_groups(self) -> Iterator[TaskGroup]:
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield child
                yield from child.iter_groups()

    @property
    def roots(self) -> list[Any]:
        members = {task.task_id for task in self.iter_tasks()}
        return [task for task in self.iter_tasks() if not (task.upstream_task_ids & members)]

    @property
    def leaves(self) -> list[Any]:
        members = {task.task_id for task in self.iter_tasks()}
        return [task for task in self.iter_tasks() if not (task.downstream_task_ids & members)]

    def __enter__(self) -> TaskGroup:
        definition_context.push_group(self)
        return self

    def __exit__(self, *exc: object) -> None:
        definition_context.pop_group()

    def __repr__(self) -> str:
        return f"<TaskGroup: {self._group_id}>"


def task_group(python_callable: Callable[..., Any] | None = None, **group_kwargs: Any) -> Any:
    """Decorate a function that creates tasks; each call makes a new group named after it.

    The call returns what the function returns when that is a task or XComArg (so
    ``group() >> next_task`` links from it), otherwise the group itself.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def factory(*args: Any, **kwargs: Any) -> Any:
            inspect.signature(function).bind(*args, **kwargs)
            options = {
                "group_id": function.__name__,
                "add_suffix_on_collision": True,
                **group_kwargs,
            }
            with TaskGroup(**options) as group:
                result = function(*args, **kwargs)
            return result if result is not None else group

        return factory

    if python_callable is not None:
        return decorate(python_callable)
    return decorate
