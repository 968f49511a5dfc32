"""What an executor needs to run one try of one task instance (or one DAG callback) without
asking the metastore."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tradewind.runner.runtime import RunInfo


@dataclasses.dataclass(frozen=True)
class TaskWorkload:
    """One try to run: identity, the pinned DAG source, the run, where to write the log.

    ``outcome_path``, when set, is where the task process also writes its final message
    before sending it, so a scheduler killed before applying it finds it after a restart.
    """

    ti_id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int
    fileloc: str
    source_code: str
    run: RunInfo
    log_path: str
    sensor_start_date: datetime | None = None
    poke_number: int = 0
    execution_timeout: float | None = None
    pool_slots: int = 1
    outcome_path: str | None = None
    #: The Celery queue a remote worker takes the try from (the task's ``queue=``).
    queue: str = "default"
    #: The DAG version the try runs, and the ``dag_bundle`` a remote worker imports it from.
    dag_version_id: int | None = None
    bundle_hash: str | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.dag_id, self.run_id, self.task_id, self.map_index)

    def describe(self) -> str:
        index = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{index} {self.run_id} try {self.try_number}"


@dataclasses.dataclass(frozen=True)
class CallbackWorkload:
    """A DAG-level ``on_success_callback`` / ``on_failure_callback`` to run for a finished run.

    ``ti_*`` name the task instance the callback's context shows as ``ti`` (Airflow passes the
    last failed one, or the last one to finish); None when the run has none.
    """

    dag_id: str
    run_id: str
    fileloc: str
    source_code: str
    run: RunInfo
    success: bool
    reason: str
    log_path: str
    ti_task_id: str | None = None
    ti_map_index: int = -1
    ti_try_number: int = 0
    ti_state: str | None = None

    @property
    def kind(self) -> str:
        return "on_success_callback" if self.success else "on_failure_callback"

    def describe(self) -> str:
        return f"{self.kind} of DAG {self.dag_id} run {self.run_id}"
