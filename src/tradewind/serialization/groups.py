"""The task group tree of a DAG as JSON, and back.

A group is ``{"group_id", "prefix_group_id", "tooltip", "ui_color", "ui_fgcolor",
"children"}``; ``children`` lists, in definition order, task ids (strings) and nested groups
(objects). The root group has ``group_id`` null. Ids are the full ids (``outer.inner``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tradewind.sdk.task_group import TaskGroup
from tradewind.serialization.errors import SerializationError

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG


def encode_group(group: TaskGroup) -> dict[str, Any]:
    children: list[Any] = []
    for child in group.children.values():
        if isinstance(child, TaskGroup):
            children.append(encode_group(child))
        else:
            children.append(child.task_id)
    return {
        "group_id": group.group_id,
        "prefix_group_id": bool(group.prefix_group_id),
        "tooltip": group.tooltip,
        "ui_color": group.ui_color,
        "ui_fgcolor": group.ui_fgcolor,
        "children": children,
    }


def _set_looks(group: TaskGroup, data: Mapping[str, Any]) -> None:
    group.prefix_group_id = bool(data.get("prefix_group_id", True))
    group.tooltip = data.get("tooltip", "")
    group.ui_color = data.get("ui_color", "CornflowerBlue")
    group.ui_fgcolor = data.get("ui_fgcolor", "#000")


def create_groups(dag: DAG, tree: Mapping[str, Any]) -> dict[str, TaskGroup]:
    """Every group of ``tree`` as a ``TaskGroup`` of ``dag``, by id, with its parent set.

    Children are attached by ``attach_children`` once the tasks exist.
    """
    groups: dict[str, TaskGroup] = {}
    _set_looks(dag.task_group, tree)

    def walk(node: Mapping[str, Any], parent: TaskGroup) -> None:
        for child in node.get("children", ()):
            if isinstance(child, str):
                continue
            group_id = child.get("group_id")
            if not isinstance(group_id, str) or group_id in groups:
                raise SerializationError(f"task group id {group_id!r} is missing or used twice")
            # Created under the root, whose child ids are
            # the ids given: the stored id is the full id.
            group = TaskGroup(group_id, parent_group=dag.task_group, dag=dag)
            group.parent_group = parent
            _set_looks(group, child)
            groups[group_id] = group
            walk(child, group)

    walk(tree, dag.task_group)
    return groups


def attach_children(dag: DAG, tree: Mapping[str, Any], groups: Mapping[str, TaskGroup]) -> None:
    """Fill every group's children in stored order and set each task's ``task_group``."""
    placed: set[str] = set()

    def walk(node: Mapping[str, Any], group: TaskGroup) -> None:
        group.children.clear()
        for child in node.get("children", ()):
            if isinstance(child, str):
                task = dag.task_dict.get(child)
                if task is None or child in placed:
                    raise SerializationError(
                        f"task group tree names task {child!r}, which is unknown or placed twice"
                    )
                placed.add(child)
                task.task_group = group
                group.children[child] = task
            else:
                sub = groups[child["group_id"]]
                group.children[child["group_id"]] = sub
                walk(child, sub)

    walk(tree, dag.task_group)
    unplaced = [task_id for task_id in dag.task_dict if task_id not in placed]
    if unplaced:
        raise SerializationError(f"tasks missing from the task group tree: {', '.join(unplaced)}")
