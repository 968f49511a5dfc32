"""Helpers for scheduler tests: DAG files in a temporary folder, parsed into the test metastore,
and a scheduler run in this process (single-threaded: its executor forks) until a condition holds.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind.config import Settings
from tradewind.dag_processing.manager import DagProcessor
from tradewind.db import engine as db_engine
from tradewind.db.models import DagRun, ParseImportError, TaskInstance, TaskInstanceHistory
from tradewind.executors.local import LocalExecutor
from tradewind.scheduler.job import SchedulerJob
from tradewind.sdk import timezone
from tradewind.services import dag_runs
from tradewind.services.task_requests import TaskRequestHandler


class SchedulerHarness:
    """A DAG folder, the metastore it is parsed into, and ways to run a scheduler on it."""

    def __init__(self, settings: Settings, engine: Engine, folder: Path) -> None:
        self.folder = folder
        self.settings = settings.with_values(
            core__dags_folder=str(folder), core__dags_are_paused_at_creation=False
        )
        self.engine = engine
        self.job: SchedulerJob | None = None  # the one run_until is running

    def write(self, name: str, source: str) -> Path:
        path = self.folder / name
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def parse(self) -> None:
        summary = DagProcessor(self.settings, self.engine).run_once(force=True)
        assert summary.import_errors == 0, self.import_errors()

    def import_errors(self) -> list[str]:
        with Session(self.engine) as session:
            return [row.stacktrace or "" for row in session.scalars(select(ParseImportError))]

    def trigger(self, dag_id: str, **kwargs: Any) -> str:
        row = db_engine.run_in_transaction(
            self.engine, lambda s: dag_runs.trigger(s, dag_id, now=timezone.utcnow(), **kwargs)
        )
        return row.run_id

    def read(self, fn: Callable[[Session], Any]) -> Any:
        return db_engine.run_in_transaction(self.engine, fn, readonly=True)

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        return self.read(
            lambda s: s.scalar(
                select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
            )
        )

    def runs(self, dag_id: str) -> list[DagRun]:
        return self.read(
            lambda s: list(
                s.scalars(
                    select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date)
                )
            )
        )

    def tis(self, dag_id: str, run_id: str | None = None) -> list[TaskInstance]:
        def read(session: Session) -> list[TaskInstance]:
            query = select(TaskInstance).where(TaskInstance.dag_id == dag_id)
            if run_id is not None:
                query = query.where(TaskInstance.run_id == run_id)
            return list(
                session.scalars(query.order_by(TaskInstance.task_id, TaskInstance.map_index))
            )

        return self.read(read)

    def states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {
            dag_runs.task_key(ti.task_id, ti.map_index): ti.state for ti in self.tis(dag_id, run_id)
        }

    def history(self, dag_id: str) -> list[TaskInstanceHistory]:
        return self.read(
            lambda s: list(
                s.scalars(
                    select(TaskInstanceHistory)
                    .where(TaskInstanceHistory.dag_id == dag_id)
                    .order_by(TaskInstanceHistory.task_id, TaskInstanceHistory.try_number)
                )
            )
        )

    def run_finished(self, dag_id: str, run_id: str) -> Callable[[], bool]:
        return lambda: self.run_state(dag_id, run_id) in ("success", "failed")

    def scheduler(
        self,
        *,
        parallelism: int = 8,
        clock: Any = timezone.utcnow,
        timeout_grace: float = 10.0,
        kill_grace: float = 5.0,
        **overrides: Any,
    ) -> SchedulerJob:
        settings = self.settings.with_values(**overrides) if overrides else self.settings
        return SchedulerJob(
            settings,
            self.engine,
            LocalExecutor(parallelism, timeout_grace=timeout_grace, kill_grace=kill_grace),
            request_handler=TaskRequestHandler,
            clock=clock,
        )

    def run_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 30.0,
        parallelism: int = 8,
        clock: Any = timezone.utcnow,
        on_pass: Callable[[], None] | None = None,
        timeout_grace: float = 10.0,
        kill_grace: float = 5.0,
        **overrides: Any,
    ) -> SchedulerJob:
        """Run a scheduler in this process until ``condition()``; fail after ``timeout`` seconds."""
        job = self.scheduler(
            parallelism=parallelism,
            clock=clock,
            timeout_grace=timeout_grace,
            kill_grace=kill_grace,
            **overrides,
        )
        self.job = job
        deadline = time.monotonic() + timeout

        def until() -> bool:
            if on_pass is not None:
                on_pass()
            return condition() or time.monotonic() > deadline

        job.run(until=until)
        assert condition(), f"condition not met within {timeout} s"
        return job


@pytest.fixture
def harness(settings: Settings, engine: Engine, tmp_path: Path) -> SchedulerHarness:
    folder = tmp_path / "dags"
    folder.mkdir()
    return SchedulerHarness(settings, engine, folder)
