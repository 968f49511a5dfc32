"""A celery deployment: the real API server, scheduler and ``tradewind celery worker``
processes on PostgreSQL and a real broker.

Fixtures
    broker_url          the broker of the deployment: Redis unless a test parametrizes it
                        (``@pytest.mark.parametrize("broker_url", BROKER_URLS)``)
    celery_deployment   ``tests/e2e``'s ``Deployment`` with the celery executor, a token key,
                        a free API port and a queue of its own on the broker;
                        ``.start_worker(name)`` starts a worker with a bogus database URL and
                        an empty DAG folder (it must need neither)

Every process is started in a session of its own and its whole process group is killed at
the end; the tries a test's tasks record (``record_pid``) are killed too, by pid, since a try
runs in a process group of its own and may outlive a worker killed by the test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import kombu
import pytest
from e2e.conftest import TRADEWIND, Deployment, wait_for

from tradewind.remote import celery_app

from .brokers import REDIS_URL, require
from .history import TryRow, tries_of_run
from .ports import free_port

SECRET = "celery-end-to-end-test-key-of-32-bytes-or-more"
#: ``pytestmark`` of the end-to-end tests: slow, on PostgreSQL (workers of several machines
#: need a server database).
END_TO_END = [
    pytest.mark.slow,
    pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)]),
]
ADMIN = ("admin", "admin-password")


class CeleryDeployment(Deployment):
    def __init__(self, env: dict[str, str], folder: Path, tmp_path: Path) -> None:
        super().__init__(env, folder)
        self.tmp_path = tmp_path
        self.port = int(env["TRADEWIND__API__PORT"])
        self.outputs: dict[int, Path] = {}
        #: Where the tasks of a test write the pids of their tries (``record_pid``).
        self.pid_folder = tmp_path / "try-pids"
        self.pid_folder.mkdir()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """A process whose output goes to a file (``output``): a pipe nobody reads while a
        run goes on fills up and blocks the process on its next log line."""
        path = self.tmp_path / f"{len(self.processes)}-{args[0]}.log"
        with path.open("w") as handle:
            process = subprocess.Popen(
                [TRADEWIND, *args],
                env=env or self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        self.processes.append(process)
        self.outputs[process.pid] = path
        return process

    def output(self, process: subprocess.Popen[str]) -> str:
        """What ``process`` wrote so far."""
        return self.outputs[process.pid].read_text(errors="replace")

    def tails(self, size: int = 3000) -> str:
        """The end of every process's output, to explain a failure."""
        return "\n".join(
            f"--- {' '.join(p.args[1:4])} (pid {p.pid}, exit {p.poll()}):\n{self.output(p)[-size:]}"
            for p in self.processes
        )

    def start_api(self) -> subprocess.Popen[str]:
        process = self.start("api-server", "--host", "127.0.0.1", "--port", str(self.port))
        url = f"{self.api_url}/execution/health"

        def healthy() -> bool:
            try:
                return httpx2.get(url, timeout=2).status_code == 200
            except httpx2.TransportError:
                return False

        wait_for(healthy, 60, "the API server to answer", interval=0.3)
        return process

    def start_worker(self, name: str, *args: str, **env: str) -> subprocess.Popen[str]:
        """A worker on its own home, without database or DAG folder; ``env``: more
        variables for it alone."""
        home = self.tmp_path / f"worker-{name}"
        (home / "empty-dags").mkdir(parents=True, exist_ok=True)
        worker_env = {
            **{k: v for k, v in self.env.items() if k != "TRADEWIND__API_AUTH__JWT_SECRET"},
            "TRADEWIND_HOME": str(home),
            "TRADEWIND__DATABASE__URL": "postgresql://nobody@bogus/x",
            "TRADEWIND__CORE__DAGS_FOLDER": str(home / "empty-dags"),
            **env,
        }
        return self.start("celery", "worker", "--hostname", f"{name}@test", *args, env=worker_env)

    def tries(self, run_id: str) -> list[TryRow]:
        """Every try of the run's task instances: ended ones from the history, then the
        current one of each instance."""
        return self.read(lambda session: tries_of_run(session, run_id))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, object]:
        """The run's states once it ended; on a timeout, the failure shows the task states and
        the end of every process's output."""
        try:
            return self.ended_run(dag_id, run_id, timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {self.states(dag_id, run_id)}\n{self.tails()}") from None

    def api_token(self) -> str:
        """A bearer token of the REST API for an admin user (created on first use)."""
        username, password = ADMIN
        created = self.cli("users", "create", "-u", username, "-p", password, "-r", "Admin")
        assert created.returncode == 0 or "already" in created.stderr, created.stderr
        answer = httpx2.post(
            f"{self.api_url}/auth/token",
            json={"username": username, "password": password},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["access_token"])

    def try_pids(self) -> list[int]:
        """The pids the tasks of this test recorded (``record_pid``)."""
        return [int(path.name.split("-")[-1]) for path in self.pid_folder.iterdir()]

    def stop_all(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
        for pid in self.try_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def broker_url() -> str:
    return REDIS_URL


@pytest.fixture
def celery_deployment(
    tradewind_env: dict[str, str], tmp_path: Path, backend: str, broker_url: str
) -> Iterator[CeleryDeployment]:
    require(broker_url)
    folder = tmp_path / "dags"
    folder.mkdir()
    port = free_port()
    env = {
        **os.environ,
        **tradewind_env,
        "TRADEWIND__CORE__DAGS_FOLDER": str(folder),
        "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
        "TRADEWIND__CORE__EXECUTOR": "celery",
        "TRADEWIND__API_AUTH__JWT_SECRET": SECRET,
        "TRADEWIND__API__PORT": str(port),
        "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "TRADEWIND__CELERY__BROKER_URL": broker_url,
        "TRADEWIND__CELERY__DEFAULT_QUEUE": f"tw-{uuid.uuid4().hex[:10]}",
        "TRADEWIND__SCHEDULER__TASK_HEARTBEAT_INTERVAL": "1",
    }
    deployment = CeleryDeployment(env, folder, tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop_all()
        _delete_queue(broker_url, env["TRADEWIND__CELERY__DEFAULT_QUEUE"])


def _delete_queue(broker_url: str, name: str) -> None:
    """Leave no queue of the test on the broker (RabbitMQ keeps durable queues forever)."""
    with kombu.Connection(broker_url) as connection:
        celery_app.queue(name)(connection.default_channel).delete()
