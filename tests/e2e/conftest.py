"""End-to-end helpers: the real ``tradewind`` command in subprocesses, polled with deadlines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tradewind import config
from tradewind.dag_processing.manager import DagProcessor
from tradewind.services import db_admin

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Deployment:
    """A Tradewind home with a DAG folder, and the processes started on it."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.processes: list[subprocess.Popen[str]] = []

    @property
    def home(self) -> Path:
        return Path(self.env["TRADEWIND_HOME"])

    def write(self, name: str, source: str) -> None:
        (self.folder / name).write_text(textwrap.dedent(source), encoding="utf-8")

    def parse(self) -> None:
        settings = config.load(environ=self.env)
        engine = db_admin.open_engine(settings)
        try:
            DagProcessor(settings, engine).run_once(force=True)
        finally:
            engine.dispose()

    def start(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [TRADEWIND, *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TRADEWIND, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def states(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        result = self.cli("tasks", "states-for-dag-run", dag_id, run_id, "-o", "json")
        return json.loads(result.stdout) if result.returncode == 0 else None

    wait_for = staticmethod(wait_for)

    def ended_run(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """The run's states once it ended (success or failed), polled from the CLI."""
        return self.wait_for(
            lambda: (
                (s := self.states(dag_id, run_id)) and s["state"] in ("success", "failed") and s
            ),
            timeout,
            f"run {run_id} of {dag_id} to end",
            interval=0.3,
        )

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        """User + system CPU time of a process so far."""
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def read(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(session)`` in a read transaction on this deployment's metastore."""
        return db_admin.run(config.load(environ=self.env), fn, readonly=True)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)


@pytest.fixture
def deployment(tradewind_env: dict[str, str], tmp_path: Path) -> Iterator[Deployment]:
    folder = tmp_path / "dags"
    folder.mkdir()
    env = {
        **os.environ,
        **tradewind_env,
        "TRADEWIND__CORE__DAGS_FOLDER": str(folder),
        "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
    }
    deployment = Deployment(env, folder)
    try:
        yield deployment
    finally:
        deployment.stop_all()
