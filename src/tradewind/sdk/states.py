"""Task instance and DAG run states, with Airflow's string values."""

from __future__ import annotations

import enum


class TaskInstanceState(enum.StrEnum):
    """State of one task instance."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    REMOVED = "removed"
    RESTARTING = "restarting"
    DEFERRED = "deferred"


class DagRunState(enum.StrEnum):
    """State of one DAG run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class DagRunType(enum.StrEnum):
    """Why a DAG run exists."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"
    ASSET_TRIGGERED = "asset_triggered"

    def generate_run_id(self, logical_date_iso: str) -> str:
        return f"{self.value}__{logical_date_iso}"


#: States after which a task instance will not run again unless cleared.
FINISHED_STATES = frozenset(
    {
        TaskInstanceState.SUCCESS,
        TaskInstanceState.FAILED,
        TaskInstanceState.SKIPPED,
        TaskInstanceState.UPSTREAM_FAILED,
        TaskInstanceState.REMOVED,
    }
)

#: States a task instance can be in while still unfinished.
UNFINISHED_STATES = frozenset(
    {
        None,
        TaskInstanceState.SCHEDULED,
        TaskInstanceState.QUEUED,
        TaskInstanceState.RUNNING,
        TaskInstanceState.UP_FOR_RETRY,
        TaskInstanceState.UP_FOR_RESCHEDULE,
        TaskInstanceState.RESTARTING,
        TaskInstanceState.DEFERRED,
    }
)


def after_failed_try(
    try_number: int, max_tries: int, *, retryable: bool = True
) -> TaskInstanceState:
    """The state a try that failed leaves its task instance in: up_for_retry while it has
    tries left (``try_number <= max_tries``, Airflow's rule) and may be retried, else failed.

    One rule for the task process that reports its own failure and for the scheduler that
    records a try which died without a word; it does no I/O, so both may call it.
    """
    if retryable and try_number <= max_tries:
        return TaskInstanceState.UP_FOR_RETRY
    return TaskInstanceState.FAILED
