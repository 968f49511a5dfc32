"""A running task's questions to the process that supervises it, about other DAG runs.

Operators that act on other runs (``TriggerDagRunOperator``, ``ExternalTaskSensor``) never
open the metastore: a task process has no database connection. They ask the scheduler over
the task process's channel instead. The task process installs a sender when it starts
(``install``); where there is none (``tradewind dags test``, ``tasks test``) ``request``
raises ``SupervisorUnavailable``, which those operators turn into a clear failure.

Requests (``op`` and fields; every reply may instead be ``{"error": message}``):

``trigger_dag_run``
    ``dag_id``, ``run_id`` (or None), ``logical_date`` (ISO 8601 or None), ``conf`` (object),
    ``reset_dag_run`` (bool), ``fail_when_dag_is_paused`` (bool) ->
    ``{"run_id", "logical_date", "state", "already_existed"}``; a run that exists (same run id
    or logical date) without ``reset_dag_run`` -> ``{"error", "error_type": "already_exists"}``.
``dag_run_state``
    ``dag_id``, ``run_id`` -> ``{"found": bool, "state", "logical_date"}``.
``task_states``
    ``dag_id``, ``logical_dates`` (ISO 8601 list), ``task_ids`` (list or None),
    ``task_group_id`` (or None) -> ``{"dag_exists": bool, "missing_task_ids": [...],
    "runs": [{"logical_date", "run_id", "state", "tasks": {task_id: [state, ...]}}]}``, one
    entry per logical date that has a run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tradewind.exceptions import TradewindError

#: Sends one request (its wire fields) and returns the reply's fields; the task process's
#: sender makes a typed message of it (``runner.messages``), which is checked there.
Sender = Callable[[dict[str, Any]], dict[str, Any]]

_sender: Sender | None = None
_lock = threading.Lock()


class SupervisorUnavailable(TradewindError):
    """This task is not running under a scheduler, so it cannot ask about other DAG runs."""


class SupervisorRequestFailed(TradewindError):
    """The scheduler could not answer the request."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type


def install(sender: Sender | None) -> None:
    """Set (or, with None, remove) the function that sends a request and returns the reply."""
    global _sender
    _sender = sender


def available() -> bool:
    return _sender is not None


def request(message: dict[str, Any]) -> dict[str, Any]:
    """Send ``message`` and return the reply; raises when there is no supervisor or it refused."""
    sender = _sender
    if sender is None:
        raise SupervisorUnavailable()
    with _lock:  # one question at a time on the channel, even from several threads
        reply = sender(message)
    if "error" in reply:
        raise SupervisorRequestFailed(str(reply["error"]), reply.get("error_type"))
    return reply
