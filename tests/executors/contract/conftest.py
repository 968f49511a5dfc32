"""The executors the contract suite runs against: the local executor (with warm launchers, and
forking every try directly), the celery executor with a real API server and worker
(``celery_subject``), and every fake executor the tests use instead of them."""

from __future__ import annotations

import dataclasses
import os
import signal
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.executors.contract.celery_subject import celery_deployment
from tests.executors.fakes import ScriptedExecutor
from tests.remote_celery.brokers import REDIS_URL, require
from tradewind.executors.base import BaseExecutor, TaskStarted
from tradewind.executors.celery_executor import CeleryExecutor
from tradewind.executors.launchers import LauncherPool
from tradewind.executors.local import LocalExecutor
from tradewind.runner import xcom_codec
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk import timezone

#: One task per behaviour the contract checks; a fake follows the same names (``SCRIPT``).
SOURCE = textwrap.dedent("""
    import datetime, time
    from tradewind import DAG, PythonOperator

    def fails():
        raise ValueError("the task raised")

    def asks(ti):
        return ti.xcom_pull(task_ids="source", key="return_value") + 1

    with DAG("contract", schedule=None) as dag:
        PythonOperator(task_id="ok", python_callable=lambda: "v")
        PythonOperator(task_id="fails", python_callable=fails)
        PythonOperator(task_id="fails_retried", python_callable=fails, retries=1)
        PythonOperator(task_id="block", python_callable=lambda: time.sleep(60))
        PythonOperator(task_id="asks", python_callable=asks)
        PythonOperator(task_id="timeout", python_callable=lambda: time.sleep(60),
                       execution_timeout=datetime.timedelta(seconds=1))
""")

SCRIPT = {"ok": "success", "fails": "failed", "fails_retried": "failed", "block": "block"}

RUN = RunInfo("contract", "r1", timezone.utcnow(), None, None, "manual", {})


class Answers:
    """The request handler: answers XCom questions with 41, records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(message)
        return {"value": xcom_codec.encode(41)}


@dataclasses.dataclass
class Subject:
    """An executor under the contract, and what the suite needs to know of it."""

    executor: BaseExecutor
    answers: Answers
    folder: Path
    #: Make a started try's process vanish, as a SIGKILL would.
    lose: Callable[[TaskStarted], None]
    #: It finds and adopts the tries of a dead predecessor of its home.
    can_adopt: bool
    make: Callable[[], BaseExecutor]
    #: Its tries run on workers: the API server answers their questions (the request handler
    #: given to ``start`` answers only DAG callbacks), and they outlive ``end`` (the next
    #: scheduler adopts them).
    remote: bool = False
    #: Makes the metastore ready for a workload (a remote try starts only when its task
    #: instance is queued for it); the workload to launch.
    queue_row: Callable[[TaskWorkload], TaskWorkload] | None = None

    def workload(self, ti_id: int, task_id: str, **changes: Any) -> TaskWorkload:
        workload = TaskWorkload(
            ti_id=ti_id,
            dag_id="contract",
            run_id="r1",
            task_id=task_id,
            map_index=-1,
            try_number=1,
            max_tries=0,
            fileloc=str(self.folder / "contract.py"),
            source_code=SOURCE,
            run=RUN,
            log_path=str(self.folder / "logs" / f"{task_id}-{ti_id}.log"),
            execution_timeout=1.0 if task_id == "timeout" else None,
            outcome_path=str(self.folder / "outcomes" / f"{ti_id}-1.json"),
        )
        workload = dataclasses.replace(workload, **changes)
        return workload if self.queue_row is None else self.queue_row(workload)


def _kill(started: TaskStarted) -> None:
    os.kill(started.pid, signal.SIGKILL)


def _scripted() -> BaseExecutor:
    return ScriptedExecutor(run_for=0.1, script=lambda w: SCRIPT.get(w.task_id, w.task_id))


EXECUTORS: dict[str, tuple[Callable[[], BaseExecutor], bool]] = {
    "local": (lambda: LocalExecutor(parallelism=4, kill_grace=0.5, timeout_grace=1.0), True),
    "local-direct": (
        lambda: LocalExecutor(
            parallelism=4,
            kill_grace=0.5,
            timeout_grace=1.0,
            launchers=LauncherPool(enabled=False),
            fork_server=False,
        ),
        True,
    ),
    "scripted": (_scripted, False),
}


@pytest.fixture(
    params=[
        *sorted(EXECUTORS),
        pytest.param("celery", marks=[pytest.mark.slow, pytest.mark.postgres]),
    ]
)
def subject(request: Any, tmp_path: Path) -> Iterator[Subject]:
    if request.param == "celery":
        yield from _celery_subject(request, tmp_path)
        return
    make, real = EXECUTORS[request.param]
    executor = make()
    answers = Answers()
    executor.start(answers, home=tmp_path if real else None)
    lose: Callable[[TaskStarted], None] = (
        _kill if real else (lambda started: executor.lose(started.ti_id))  # type: ignore[attr-defined]
    )
    yield Subject(executor, answers, tmp_path, lose, can_adopt=real, make=make)
    executor.end(grace=0.5)


def _celery_subject(request: Any, tmp_path: Path) -> Iterator[Subject]:
    """On PostgreSQL (workers of several machines need a server database) and Redis."""
    database_url = request.getfixturevalue("postgres_server").clean_migrated_database()
    with celery_deployment(tmp_path, database_url, require(REDIS_URL)) as deployment:

        def make() -> BaseExecutor:
            return CeleryExecutor(deployment.settings())

        executor = make()
        answers = Answers()
        executor.start(answers)
        yield Subject(
            executor,
            answers,
            tmp_path,
            deployment.lose,
            can_adopt=False,
            make=make,
            remote=True,
            queue_row=deployment.queue_row,
        )
        executor.end(grace=0.5)
