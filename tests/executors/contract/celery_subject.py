"""The celery executor under the contract: a real ``tradewind api-server`` and a real
``tradewind celery worker`` (subprocesses, each in a process group of its own) on PostgreSQL
and Redis, and the executor in the test process as a scheduler holds it.

The execution API accepts only tries whose task instance is queued for them, so each workload
the suite makes gets its row first (``queue_row``), in a run ``contract``/``r1`` whose XCom
``source`` is 41: the remote tries' questions are answered from the metastore by the API
server, not by the executor's request handler. ``lose`` kills the try's own process on the
worker (the one holding its log file open): the start event names the worker's process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import kombu
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.remote_celery.ports import free_port
from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.db import models
from tradewind.executors.base import TaskStarted
from tradewind.remote import celery_app
from tradewind.runner import xcom_codec
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk.states import TaskInstanceState as TIS

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))
SECRET = "executor-contract-test-key-of-32-bytes-or-more"
#: The task instance whose XCom the contract's ``asks`` task reads (41).
SOURCE_TI_ID = 1000
#: The worker's heartbeat: a try the executor terminates stops within about one.
HEARTBEAT_INTERVAL = 0.5


class CeleryDeploymentForContract:
    """The API server and the worker the executor's tries go through."""

    def __init__(self, folder: Path, database_url: str, broker_url: str) -> None:
        self.folder = folder
        self.port = free_port()
        self.queue = f"tw-contract-{uuid.uuid4().hex[:10]}"
        self.broker_url = broker_url
        self.env = {
            **os.environ,
            "TRADEWIND_HOME": str(folder),
            "TRADEWIND__DATABASE__URL": database_url,
            "TRADEWIND__API_AUTH__JWT_SECRET": SECRET,
            "TRADEWIND__API__PORT": str(self.port),
            "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "TRADEWIND__CELERY__BROKER_URL": broker_url,
            "TRADEWIND__CELERY__DEFAULT_QUEUE": self.queue,
            "TRADEWIND__SCHEDULER__TASK_HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL),
        }
        self.worker_home = folder / "worker"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.engine = db_engine.create_engine(database_url)

    def settings(self) -> config.Settings:
        return config.load(environ=self.env)

    def start(self) -> None:
        self._seed_run()
        self._start("api", "api-server", "--host", "127.0.0.1", "--port", str(self.port))
        self._wait_for_api()
        worker_env = {
            **{k: v for k, v in self.env.items() if k != "TRADEWIND__API_AUTH__JWT_SECRET"},
            "TRADEWIND_HOME": str(self.worker_home),
            "TRADEWIND__DATABASE__URL": "postgresql://nobody@bogus/x",
        }
        self._start(
            "worker", "celery", "worker", "--hostname", "contract@test", "-c", "4", env=worker_env
        )

    def _start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        with (self.folder / f"{name}.log").open("w") as out:
            self.processes.append(
                subprocess.Popen(
                    [TRADEWIND, *args],
                    env=env or self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def _wait_for_api(self) -> None:
        url = f"http://127.0.0.1:{self.port}/execution/health"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx2.TransportError):
                if httpx2.get(url, timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, (self.folder / "api.log").read_text()
            time.sleep(0.2)

    def _seed_run(self) -> None:
        def seed(session: Session) -> None:
            session.add(models.Dag(dag_id="contract"))
            session.flush()
            session.add(
                models.DagRun(dag_id="contract", run_id="r1", run_type="manual", state="running")
            )
            session.flush()
            # Ids are given: the contract's workloads name theirs (1, 2, 3).
            session.add(
                models.TaskInstance(
                    id=SOURCE_TI_ID,
                    dag_id="contract",
                    run_id="r1",
                    task_id="source",
                    state=TIS.SUCCESS,
                    try_number=1,
                )
            )
            session.flush()
            session.add(
                models.XCom(
                    dag_id="contract",
                    run_id="r1",
                    task_id="source",
                    map_index=-1,
                    key="return_value",
                    value=xcom_codec.encode(41),
                )
            )

        db_engine.run_in_transaction(self.engine, seed)

    def queue_row(self, workload: TaskWorkload) -> TaskWorkload:
        """The task instance of ``workload``, queued for its try as the scheduler leaves it
        before sending the try; in a run of its own when run ``r1`` has that task already
        (the suite runs ``block`` twice at once)."""

        def queue(session: Session) -> TaskWorkload:
            ti = session.get(models.TaskInstance, workload.ti_id)
            if ti is None:
                taken = session.scalar(
                    select(models.TaskInstance.id).where(
                        models.TaskInstance.run_id == workload.run_id,
                        models.TaskInstance.task_id == workload.task_id,
                    )
                )
                run_id = workload.run_id if taken is None else f"r1-{workload.ti_id}"
                if taken is not None:
                    session.add(
                        models.DagRun(
                            dag_id="contract", run_id=run_id, run_type="manual", state="running"
                        )
                    )
                    session.flush()
                ti = models.TaskInstance(
                    id=workload.ti_id,
                    dag_id=workload.dag_id,
                    run_id=run_id,
                    task_id=workload.task_id,
                    map_index=workload.map_index,
                )
                session.add(ti)
            ti.try_number = workload.try_number
            ti.max_tries = workload.max_tries
            ti.state = TIS.QUEUED
            return dataclasses.replace(workload, run_id=ti.run_id)

        return db_engine.run_in_transaction(self.engine, queue)

    def lose(self, started: TaskStarted) -> None:
        """SIGKILL the try's process on the worker: the one with its log open."""
        folder = self.worker_home / "worker" / "logs" / str(started.ti_id)
        deadline = time.monotonic() + 10
        while True:
            for pid in _holding_open(folder):
                os.kill(pid, signal.SIGKILL)
                return
            assert time.monotonic() < deadline, f"no process holds a log of {folder} open"
            time.sleep(0.05)

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.engine.dispose()
        with kombu.Connection(self.broker_url) as connection:
            celery_app.queue(self.queue)(connection.default_channel).delete()


def _holding_open(folder: Path) -> list[int]:
    """The processes with a file under ``folder`` open."""
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if Path(os.readlink(fd)).parent == folder:
                        found.append(int(fd_dir.parent.name))
                        break
    return found


@contextlib.contextmanager
def celery_deployment(
    folder: Path, database_url: str, broker_url: str
) -> Iterator[CeleryDeploymentForContract]:
    deployment = CeleryDeploymentForContract(folder, database_url, broker_url)
    try:
        deployment.start()
        yield deployment
    finally:
        deployment.stop()
