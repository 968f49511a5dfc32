"""The dependency order of a DAG's tasks, from their edges alone.

``DAG.topological_sort`` orders a DAG's tasks with it, and ``tradewind tasks
states-for-dag-run`` orders a stored run's tasks with it straight from the serialized DAG's
edges, without building the DAG (which imports the operators, timetables and their libraries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tradewind.exceptions import CycleError, DagDefinitionError


def topological_order(downstream: Mapping[str, Iterable[str]]) -> list[str]:
    """Task ids in dependency order: every task after all its upstream tasks, and among tasks
    free to go at the same point, the one first in ``downstream``'s order (definition order)
    first.

    ``downstream`` maps each task id to the ids of its direct downstream tasks. Raises
    ``DagDefinitionError`` for an edge to an unknown task and ``CycleError`` when the edges
    form a cycle (``DAG.check_cycle`` names the cycle).
    """
    indegree = dict.fromkeys(downstream, 0)
    for task_id, targets in downstream.items():
        for target in targets:
            if target not in indegree:
                raise DagDefinitionError(f"task {task_id!r} points to unknown task {target!r}")
            indegree[target] += 1
    position = {task_id: index for index, task_id in enumerate(downstream)}
    ready = [task_id for task_id, degree in indegree.items() if degree == 0]
    order: list[str] = []
    while ready:
        ready.sort(key=position.__getitem__, reverse=True)
        task_id = ready.pop()
        order.append(task_id)
        for target in downstream[task_id]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) < len(position):
        raise CycleError(f"the tasks {sorted(set(position) - set(order))} form a cycle")
    return order
