"""What a workload needs from an orchestrator, whichever it is: trigger runs, wait for them,
read their task instances. ``harness.TradewindRunner`` and ``airflow_side.AirflowRunner``
implement it; ``workloads`` only talks to this protocol, so both are measured the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Protocol

FINISHED = frozenset({"success", "failed"})


@dataclasses.dataclass(frozen=True)
class RunRow:
    run_id: str
    state: str
    queued_at: dt.datetime | None
    start_date: dt.datetime | None
    end_date: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class TaskRow:
    task_id: str
    state: str | None
    start_date: dt.datetime | None
    end_date: dt.datetime | None


class DagRunner(Protocol):
    """One running orchestrator with the workload DAGs parsed and unpaused."""

    name: str

    def trigger(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> None:
        """Create a manual run and have the scheduler start it as soon as it can."""

    def wait_runs(
        self, dag_id: str, run_ids: Sequence[str], timeout: float, what: str
    ) -> dict[str, RunRow]:
        """Block until every run is success or failed; ``BenchError`` after ``timeout`` s."""

    def task_rows(self, dag_id: str, run_id: str) -> list[TaskRow]:
        """The task instances of one run."""


def parse_time(value: object) -> dt.datetime | None:
    """A UTC-aware datetime from a DB value (naive UTC text on SQLite) or an ISO string."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
