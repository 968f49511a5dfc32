"""Tradewind ``standalone`` under measurement: start it on a fresh home, know when it is ready,
trigger runs, wait for them, read their task instances, stop it.

Ready: ``standalone`` is ready when ``/api/v2/monitor/health`` on ``TRADEWIND__API__PORT``
answers with a healthy metastore and scheduler. Until ``standalone`` serves the API, the
harness falls back to the metastore: a running scheduler job row with a heartbeat, and every
expected DAG stored. The first start of a session finds out which applies (the endpoint is
given a grace period after the metastore says ready); later starts reuse the answer.

Triggering goes through ``tradewind.services.dag_runs.trigger`` in this process, on an engine
kept open, followed by the scheduler wake-up a CLI or API trigger sends; that is what a
REST trigger does minus HTTP, and it keeps a ~0.5 s CLI start-up out of the measured time.
If the service call does not fit (the service changed), the CLI is used and the figure says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from bench import procs
from bench.figures import BenchError
from bench.metastore import BenchDatabase, MetastoreReader
from bench.runs import RunRow, TaskRow
from tradewind import config, wakeup
from tradewind.db import engine as db_engine
from tradewind.sdk import timezone
from tradewind.services import dag_runs, db_admin

BIN = Path(sys.executable).parent
TRADEWIND = str(BIN / "tradewind")
HEALTH_PATH = "/api/v2/monitor/health"
HEALTH_GRACE = 5.0


def clean_environ() -> dict[str, str]:
    """This process's environment without any Tradewind or Airflow settings."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TRADEWIND__", "AIRFLOW__"))
        and k not in {"TRADEWIND_HOME", "AIRFLOW_HOME"}
    }


def tradewind_env(
    home: Path, dags_folder: Path, db: BenchDatabase, *, api_port: int | None = None
) -> dict[str, str]:
    env = clean_environ()
    env["TRADEWIND_HOME"] = str(home)
    env["TRADEWIND__CORE__DAGS_FOLDER"] = str(dags_folder)
    if api_port is not None:
        env["TRADEWIND__API__PORT"] = str(api_port)
    env.update(db.env(home))
    return env


def http_json(
    url: str,
    *,
    method: str = "GET",
    body: Any = None,
    token: str | None = None,
    timeout: float = 5.0,
) -> tuple[int, Any]:
    """(status, parsed JSON or None); status 0 when nothing answered."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError):
        return 0, None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def health_is_healthy(body: Any) -> bool:
    """Airflow's shape, which Tradewind keeps: metastore and scheduler both healthy."""
    try:
        return (
            body["metadatabase"]["status"] == "healthy" and body["scheduler"]["status"] == "healthy"
        )
    except (KeyError, TypeError):
        return False


@dataclasses.dataclass(frozen=True)
class Ready:
    seconds: float
    method: str
    dags_seconds: float | None


class Standalone:
    """One ``tradewind standalone`` on a fresh home (and a fresh database)."""

    #: Whether ``standalone`` serves the health endpoint: None until the first start tells.
    health_supported: bool | None = None

    def __init__(self, home: Path, dags_folder: Path, db: BenchDatabase) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.db = db
        self.port = procs.free_port()
        self.log_path = home / "standalone.log"
        self.env: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.reader: MetastoreReader | None = None
        self.started = 0.0

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = tradewind_env(self.home, self.dags_folder, self.db, api_port=self.port)
        url = self.env.get("TRADEWIND__DATABASE__URL") or f"sqlite:///{self.home / 'tradewind.db'}"
        self.reader = MetastoreReader(url)
        self.started = time.monotonic()
        self.proc = procs.start_session(
            [TRADEWIND, "standalone"], env=self.env, log_path=self.log_path, cwd=self.home
        )

    def _health(self) -> bool | None:
        """True healthy, False answered unhealthy, None no answer."""
        status, body = http_json(f"http://127.0.0.1:{self.port}{HEALTH_PATH}", timeout=1.0)
        if status == 0:
            return None
        return status == 200 and health_is_healthy(body)

    def check_alive(self, what: str) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise BenchError(
                f"{what}: tradewind standalone exited with code {self.proc.returncode}; "
                f"last lines of {self.log_path}:\n{procs.tail(self.log_path)}"
            )

    def wait_ready(
        self, expected_dags: set[str], *, timeout: float = 60.0, what: str = "standalone"
    ) -> Ready:
        """Wait until healthy (or, without the endpoint, scheduler up) and the DAGs stored."""
        assert self.reader is not None
        deadline = self.started + timeout
        healthy_at: float | None = None
        db_ready_at: float | None = None
        dags_at: float | None = None
        cls = type(self)
        while True:
            now = time.monotonic()
            self.check_alive(what)
            if healthy_at is None and cls.health_supported is not False and self._health():
                healthy_at = now
                cls.health_supported = True
            if dags_at is None and expected_dags <= self.reader.active_dag_ids():
                dags_at = now
            if db_ready_at is None and dags_at is not None and self.reader.scheduler_running():
                db_ready_at = now
            if healthy_at is not None and dags_at is not None:
                return Ready(healthy_at - self.started, "health endpoint", dags_at - self.started)
            if db_ready_at is not None and cls.health_supported is not True:
                listening = procs.port_open(self.port)
                if cls.health_supported is False or (
                    not listening and now - db_ready_at > HEALTH_GRACE
                ):
                    cls.health_supported = False
                    return Ready(
                        db_ready_at - self.started,
                        "scheduler job row + DAGs stored (no health endpoint)",
                        dags_at - self.started if dags_at else None,
                    )
            if now > deadline:
                raise BenchError(
                    f"{what}: tradewind standalone not ready after {timeout:g} s (health answered: "
                    f"{healthy_at is not None}, scheduler row: {self.reader.scheduler_running()}, "
                    f"DAGs stored: {sorted(self.reader.active_dag_ids())} of "
                    f"{sorted(expected_dags)}); log {self.log_path}:\n{procs.tail(self.log_path)}"
                )
            time.sleep(0.01)

    def memory(self) -> procs.Memory:
        assert self.proc is not None
        return procs.memory_of(procs.session_pids(self.proc.pid))

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return procs.cpu_seconds(procs.session_pids(self.proc.pid))

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.close()
        if self.proc is not None:
            procs.stop_session(self.proc, grace=20.0)
            self.proc = None


class TradewindServer(Protocol):
    """What ``TradewindRunner`` needs of a started Tradewind (``Standalone``, or a deployment
    of separate processes): the environment its scheduler runs with, and its metastore."""

    env: dict[str, str]
    reader: MetastoreReader | None

    def check_alive(self, what: str) -> None:
        """Raise ``BenchError`` when a process of it died."""


class TradewindRunner:
    """``runs.DagRunner`` over a started ``Standalone`` (or another ``TradewindServer``)."""

    name = "tradewind"

    def __init__(self, standalone: TradewindServer) -> None:
        self.standalone = standalone
        self.reader = standalone.reader
        self.trigger_mode = "service"
        self._engine: Any = None
        self._settings: Any = None
        try:
            self._open_service()
        except Exception as exc:  # the services changed under us: fall back to the CLI
            self.trigger_mode = f"cli ({type(exc).__name__}: {exc})"

    def _open_service(self) -> None:
        self._settings = config.load(self.standalone.env)
        self._engine = db_admin.open_engine(self._settings, auto_migrate=False)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def trigger(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> None:
        if self.trigger_mode == "service":
            try:
                self._trigger_service(dag_id, run_id, logical_date)
                return
            except (TypeError, AttributeError) as exc:
                self.trigger_mode = f"cli (service call failed: {exc})"
        done = procs.run_timed(
            [
                TRADEWIND,
                "dags",
                "trigger",
                dag_id,
                "--run-id",
                run_id,
                "--logical-date",
                logical_date.isoformat(),
            ],
            env=self.standalone.env,
            timeout=60,
            what=f"tradewind dags trigger {dag_id}",
        )
        if done.returncode != 0:
            raise BenchError(f"tradewind dags trigger {dag_id} failed: {done.stderr.strip()}")

    def _trigger_service(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> None:
        db_engine.run_in_transaction(
            self._engine,
            lambda session: dag_runs.trigger(
                session, dag_id, run_id=run_id, logical_date=logical_date, now=timezone.utcnow()
            ),
        )
        wakeup.notify(self._settings.home)

    def wait_runs(
        self, dag_id: str, run_ids: Sequence[str], timeout: float, what: str
    ) -> dict[str, RunRow]:
        assert self.reader is not None
        return self.reader.wait_runs(
            dag_id, run_ids, timeout, what, check=self.standalone.check_alive
        )

    def task_rows(self, dag_id: str, run_id: str) -> list[TaskRow]:
        assert self.reader is not None
        return self.reader.task_rows(dag_id, run_id)
