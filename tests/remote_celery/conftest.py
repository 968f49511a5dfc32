"""A celery deployment: the real API server, scheduler and ``tradewind celery worker``
processes on PostgreSQL and a real broker.

Fixtures
    celery_deployment   ``tests/e2e``'s ``Deployment`` with the celery executor, a token key,
                        a free API port and a queue of its own on Redis;
                        ``.start_worker(name)`` starts a worker with a bogus database URL and
                        an empty DAG folder (it must need neither)
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from e2e.conftest import TRADEWIND, Deployment, wait_for

from .brokers import REDIS_URL, require

SECRET = "celery-end-to-end-test-key-of-32-bytes-or-more"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CeleryDeployment(Deployment):
    def __init__(self, env: dict[str, str], folder: Path, tmp_path: Path) -> None:
        super().__init__(env, folder)
        self.tmp_path = tmp_path
        self.port = int(env["TRADEWIND__API__PORT"])
        self.outputs: dict[int, Path] = {}

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
            )
        self.processes.append(process)
        self.outputs[process.pid] = path
        return process

    def output(self, process: subprocess.Popen[str]) -> str:
        """What ``process`` wrote so far."""
        return self.outputs[process.pid].read_text(errors="replace")

    def start_api(self) -> subprocess.Popen[str]:
        process = self.start("api-server", "--host", "127.0.0.1", "--port", str(self.port))
        url = f"http://127.0.0.1:{self.port}/execution/health"

        def healthy() -> bool:
            try:
                return httpx2.get(url, timeout=2).status_code == 200
            except httpx2.TransportError:
                return False

        wait_for(healthy, 60, "the API server to answer", interval=0.3)
        return process

    def start_worker(self, name: str, *args: str) -> subprocess.Popen[str]:
        """A worker on its own home, without database or DAG folder."""
        home = self.tmp_path / f"worker-{name}"
        (home / "empty-dags").mkdir(parents=True, exist_ok=True)
        env = {
            **{k: v for k, v in self.env.items() if k != "TRADEWIND__API_AUTH__JWT_SECRET"},
            "TRADEWIND_HOME": str(home),
            "TRADEWIND__DATABASE__URL": "postgresql://nobody@bogus/x",
            "TRADEWIND__CORE__DAGS_FOLDER": str(home / "empty-dags"),
        }
        return self.start("celery", "worker", "--hostname", f"{name}@test", *args, env=env)


@pytest.fixture
def celery_deployment(
    tradewind_env: dict[str, str], tmp_path: Path, backend: str
) -> Iterator[CeleryDeployment]:
    require(REDIS_URL)
    folder = tmp_path / "dags"
    folder.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        **tradewind_env,
        "TRADEWIND__CORE__DAGS_FOLDER": str(folder),
        "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
        "TRADEWIND__CORE__EXECUTOR": "celery",
        "TRADEWIND__API_AUTH__JWT_SECRET": SECRET,
        "TRADEWIND__API__PORT": str(port),
        "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "TRADEWIND__CELERY__BROKER_URL": REDIS_URL,
        "TRADEWIND__CELERY__DEFAULT_QUEUE": f"tw-{uuid.uuid4().hex[:10]}",
        "TRADEWIND__SCHEDULER__TASK_HEARTBEAT_INTERVAL": "1",
    }
    deployment = CeleryDeployment(env, folder, tmp_path)
    try:
        yield deployment
    finally:
        deployment.stop_all()
