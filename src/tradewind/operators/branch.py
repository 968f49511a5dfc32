"""Skipping downstream tasks: the shared logic of branching and short-circuiting."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tradewind.exceptions import TradewindError
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import Context


def _normalize_branches(result: Any) -> set[str]:
    if result is None:
        return set()
    if isinstance(result, str):
        return {result}
    if isinstance(result, Iterable):
        branches = set()
        for item in result:
            if not isinstance(item, str):
                raise TradewindError(f"a branch must be a task id (str), got {item!r}")
            branches.add(item)
        return branches
    raise TradewindError(
        f"a branch callable must return a task id, a list of task ids or None, got {result!r}"
    )


class BranchMixIn:
    """Follow the returned task ids; skip the other direct downstream tasks."""

    def do_branch(self: Any, context: Context, branches_to_execute: Any) -> Any:
        branches = _normalize_branches(branches_to_execute)
        dag = self.dag
        follow: set[str] = set()
        for branch in branches:
            if branch in dag.task_dict:
                follow.add(branch)
                continue
            group = next((g for g in dag.task_group.iter_groups() if g.group_id == branch), None)
            if group is None:
                raise TradewindError(
                    f"branch task {self.task_id!r} returned {branch!r}, which is not a task or "
                    f"task group of DAG {dag.dag_id!r}"
                )
            follow.update(task.task_id for task in group.roots)
        not_downstream = sorted(follow - self.downstream_task_ids)
        if not_downstream:
            self.log.warning(
                "branch %s follows tasks that are not directly downstream: %s",
                self.task_id,
                not_downstream,
            )
        reachable: set[str] = set()
        for task_id in follow:
            reachable.add(task_id)
            reachable |= dag.task_dict[task_id].get_flat_relative_ids(upstream=False)
        to_skip = sorted(tid for tid in self.downstream_task_ids if tid not in reachable)
        self.log.info("following branch %s; skipping %s", sorted(follow), to_skip)
        if to_skip:
            context["ti"].skip_tasks(to_skip)
        return branches_to_execute


def skip_all_downstream(task: BaseOperator, context: Context, *, recursive: bool) -> list[str]:
    """Skip the direct downstream tasks (or all of them, recursively); returns their ids."""
    ids = task.get_flat_relative_ids(upstream=False) if recursive else set(task.downstream_task_ids)
    to_skip = sorted(ids)
    if to_skip:
        context["ti"].skip_tasks(to_skip)
    return to_skip
