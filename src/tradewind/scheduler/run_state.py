"""When a DAG run is finished, and whether it succeeded (Airflow's rule: the leaves decide)."""

from __future__ import annotations

from collections.abc import Iterable, Set

from tradewind.sdk.states import UNFINISHED_STATES, DagRunState
from tradewind.sdk.states import TaskInstanceState as TIS

_FAILED = {TIS.FAILED, TIS.UPSTREAM_FAILED}
_SUCCEEDED = {TIS.SUCCESS, TIS.SKIPPED}


def decide_run_state(
    states: Iterable[tuple[str, TIS | None]], leaf_task_ids: Set[str], *, fail_fast: bool = False
) -> DagRunState | None:
    """The run's final state, or None while it is still going.

    ``states`` are ``(task_id, state)`` of every task instance of the run. The run is done when
    no task instance is unfinished: failed if any leaf failed or is upstream_failed, otherwise
    success. With ``fail_fast`` any failure fails the run at once.
    """
    unfinished = False
    leaf_failed = False
    any_failed = False
    for task_id, state in states:
        state = TIS(state) if state is not None else None
        if state in UNFINISHED_STATES:
            unfinished = True
            continue
        if state in _FAILED:
            any_failed = True
            if task_id in leaf_task_ids:
                leaf_failed = True
    if fail_fast and any_failed:
        return DagRunState.FAILED
    if unfinished:
        return None
    return DagRunState.FAILED if leaf_failed else DagRunState.SUCCESS
