"""What a running task sees of itself and of its run: ``context["ti"]`` and
``context["dag_run"]``."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tradewind.runner.xcom_store import MISSING, XComStore
from tradewind.sdk.xcom_arg import RETURN_VALUE_KEY


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """The DAG run a task instance belongs to (``context["dag_run"]``)."""

    dag_id: str
    run_id: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_type: str
    conf: dict[str, Any]
    start_date: datetime | None = None
    run_after: datetime | None = None
    prev_data_interval_start_success: datetime | None = None
    prev_data_interval_end_success: datetime | None = None
    prev_start_date_success: datetime | None = None
    clear_number: int = 0
    dag_version_number: int | None = None

    @property
    def execution_date(self) -> datetime | None:
        return self.logical_date


class RuntimeTaskInstance:
    """One try of one task instance, as the task's code sees it."""

    def __init__(
        self,
        *,
        task: Any,
        run: RunInfo,
        xcoms: XComStore,
        map_index: int = -1,
        try_number: int = 1,
        max_tries: int = 0,
        start_date: datetime | None = None,
        sensor_start_date: datetime | None = None,
        poke_number: int = 0,
        state: str = "running",
    ) -> None:
        self.task = task
        self.dag_id = run.dag_id
        self.run_id = run.run_id
        self.task_id: str = task.task_id
        self.map_index = map_index
        self.try_number = try_number
        self.max_tries = max_tries
        self.start_date = start_date
        self.sensor_start_date = sensor_start_date
        self.poke_number = poke_number
        self.hostname = socket.gethostname()
        self.state = state
        self.dag_run = run
        self._xcoms = xcoms
        self.skipped_task_ids: list[str] = []

    @property
    def logical_date(self) -> datetime | None:
        return self.dag_run.logical_date

    @property
    def execution_date(self) -> datetime | None:
        return self.dag_run.logical_date

    def get_dagrun(self) -> RunInfo:
        return self.dag_run

    def xcom_push(self, key: str, value: Any) -> None:
        """Store a value under ``key`` for downstream tasks."""
        self._xcoms.set(self.dag_id, self.run_id, self.task_id, self.map_index, key, value)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        key: str = RETURN_VALUE_KEY,
        dag_id: str | None = None,
        run_id: str | None = None,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        include_prior_dates: bool = False,
    ) -> Any:
        """A value pushed by a task of this run (a list in map-index order for a mapped task).

        ``task_ids`` defaults to this task; a list of ids gives a list of the values found.
        """
        dag_id = dag_id or self.dag_id
        run_id = run_id or self.run_id
        if task_ids is None:
            task_ids = self.task_id
        if isinstance(task_ids, str):
            return self._pull_one(dag_id, run_id, task_ids, key, map_indexes, default)
        values = []
        for task_id in task_ids:
            value = self._pull_one(dag_id, run_id, task_id, key, map_indexes, MISSING)
            if value is not MISSING:
                values.append(value)
        return values

    def _pull_one(
        self, dag_id: str, run_id: str, task_id: str, key: str, map_indexes: Any, default: Any
    ) -> Any:
        if isinstance(map_indexes, int):
            value = self._xcoms.get(dag_id, run_id, task_id, map_indexes, key)
            return default if value is MISSING else value
        if map_indexes is not None:
            values = [self._xcoms.get(dag_id, run_id, task_id, index, key) for index in map_indexes]
            return [v for v in values if v is not MISSING]
        if self._is_mapped(dag_id, task_id):
            return self._xcoms.get_mapped(dag_id, run_id, task_id, key)
        value = self._xcoms.get(dag_id, run_id, task_id, -1, key)
        return default if value is MISSING else value

    def _is_mapped(self, dag_id: str, task_id: str) -> bool:
        dag = self.task.dag if self.task.has_dag else None
        if dag is None or dag.dag_id != dag_id or task_id not in dag.task_dict:
            return False
        return bool(dag.task_dict[task_id].is_mapped)

    def skip_tasks(self, task_ids: Iterable[str]) -> None:
        """Mark tasks of this run skipped when this try ends (branching, short-circuit)."""
        for task_id in task_ids:
            if task_id not in self.skipped_task_ids:
                self.skipped_task_ids.append(task_id)

    def __repr__(self) -> str:
        return (
            f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} "
            f"map_index={self.map_index} [{self.state}]>"
        )
