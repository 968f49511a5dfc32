"""The same W1-W4 on Apache Airflow 3 ``standalone``, for the side-by-side columns.

Airflow lives in its own venv under ``bench/.airflow`` (git-ignored), never in Tradewind's.
It runs with the defaults of ``airflow standalone`` (SQLite, LocalExecutor, parallelism 32,
16 active tasks and 16 active runs per DAG), ``load_examples`` off, on a fresh
``AIRFLOW_HOME`` (``bench/.airflow/home``). The only settings changed are the ports (the API
server's, and the execution API URL the task supervisor calls, which must follow it). Runs
are triggered, polled and read through the REST API with the generated admin password.
Every wait has a deadline and says what it was waiting for when it expires.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import procs, startup
from bench.figures import BenchError, FigureSet
from bench.harness import clean_environ, health_is_healthy, http_json
from bench.runs import FINISHED, RunRow, TaskRow, parse_time
from bench.workloads import Context, RunWorkload, measure_workloads

AIRFLOW_VERSION = "3.3.2"
ROOT = Path(__file__).resolve().parent / ".airflow"
VENV = ROOT / "venv"
HOME = ROOT / "home"
INSTALL_TIMEOUT = 1800.0
READY_TIMEOUT = 600.0
PARSE_TIMEOUT = 600.0
IDLE_SECONDS = 10.0
#: Tries of one REST call that the server answers with an error (5xx), and the pause between them.
API_ATTEMPTS = 5
API_RETRY_DELAY = 1.0
#: Seconds between looks at Airflow's health while waiting for runs, and how long its scheduler
#: may be reported unhealthy before the wait gives up.
HEALTH_EVERY = 5.0
SCHEDULER_GONE_AFTER = 30.0
SETTINGS = [
    ("core", "executor"),
    ("core", "parallelism"),
    ("core", "max_active_tasks_per_dag"),
    ("core", "max_active_runs_per_dag"),
    ("database", "sql_alchemy_conn"),
    ("core", "dags_are_paused_at_creation"),
    ("core", "load_examples"),
    ("dag_processor", "refresh_interval"),
    ("scheduler", "scheduler_heartbeat_sec"),
]
SETTINGS_PROBE = (
    "import json; from airflow.configuration import conf; "
    "print(json.dumps({f'{s}.{k}': conf.get(s, k, fallback=None) for s, k in %r}))"
)


def ensure_installed(log: Callable[[str], None]) -> Path:
    """Airflow's venv, created and installed on first use; its python."""
    stamp = VENV / ".bench-installed"
    python = VENV / "bin" / "python"
    if stamp.exists() and stamp.read_text().strip() == AIRFLOW_VERSION and python.exists():
        return python
    log(f"installing apache-airflow=={AIRFLOW_VERSION} into {VENV} (takes a minute or two)")
    shutil.rmtree(VENV, ignore_errors=True)
    made = procs.run_timed(
        [sys.executable, "-m", "venv", str(VENV)], timeout=300, what="python -m venv for Airflow"
    )
    if made.returncode != 0:
        raise BenchError(f"could not create {VENV}: {made.stderr.strip()}")
    done = procs.run_timed(
        [str(VENV / "bin" / "pip"), "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}"],
        timeout=INSTALL_TIMEOUT,
        what=f"pip install apache-airflow=={AIRFLOW_VERSION}",
    )
    if done.returncode != 0:
        raise BenchError(
            f"pip install apache-airflow=={AIRFLOW_VERSION} failed: {done.stderr.strip()[-800:]}"
        )
    stamp.write_text(AIRFLOW_VERSION + "\n")
    return python


#: What Airflow on ``postgresql://`` needs in its venv (its sync and async drivers; neither is
#: one of Airflow's own dependencies), by the module each provides.
POSTGRES_DRIVERS = {"psycopg2": "psycopg2-binary", "asyncpg": "asyncpg"}


def ensure_postgres_driver(log: Callable[[str], None]) -> None:
    """Install Airflow's PostgreSQL drivers into its venv on first use."""
    ensure_packages(log, POSTGRES_DRIVERS)


def ensure_packages(log: Callable[[str], None], packages: dict[str, str]) -> None:
    """Install ``packages`` (module to import → requirement) into Airflow's venv unless every
    module imports already."""
    probe = "; ".join(f"import {module}" for module in packages)
    _install_unless(log, probe, list(packages.values()))


def ensure_pinned(log: Callable[[str], None], versions: dict[str, str]) -> None:
    """Install ``versions`` (distribution → exact version) into Airflow's venv unless each is
    installed at that version."""
    probe = "import importlib.metadata as m; " + "; ".join(
        f"assert m.version({name!r}) == {version!r}" for name, version in versions.items()
    )
    _install_unless(log, probe, [f"{name}=={version}" for name, version in versions.items()])


def _install_unless(log: Callable[[str], None], probe: str, requirements: list[str]) -> None:
    """``pip install`` the requirements when ``probe`` fails in Airflow's python; Airflow itself
    is pinned in the same command, so that nothing installed here moves it to another version."""
    python = VENV / "bin" / "python"
    if subprocess.run([str(python), "-c", probe], capture_output=True).returncode == 0:
        return
    log(f"installing {', '.join(requirements)} into {VENV}")
    done = procs.run_timed(
        [str(python), "-m", "pip", "install", "--quiet", f"apache-airflow=={AIRFLOW_VERSION}"]
        + requirements,
        timeout=INSTALL_TIMEOUT,
        what=f"pip install {' '.join(requirements)}",
    )
    if done.returncode != 0:
        raise BenchError(
            f"pip install {' '.join(requirements)} failed: {done.stderr.strip()[-800:]}"
        )


class AirflowStandalone:
    """``airflow standalone`` on a fresh ``AIRFLOW_HOME``, and a REST client for it."""

    def __init__(self, home: Path = HOME) -> None:
        self.home = home
        self.port = procs.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = home.parent / "standalone.log"
        self.env: dict[str, str] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.token: str | None = None
        self.started = 0.0
        #: REST calls tried again after a server error (reported under the table).
        self.retried = 0

    def prepare(
        self, write_dags: Callable[[Path], None], extra_env: dict[str, str] | None = None
    ) -> dict[str, str]:
        """A fresh ``AIRFLOW_HOME`` with the DAG files; the environment to run Airflow in."""
        shutil.rmtree(self.home, ignore_errors=True)
        (self.home / "dags").mkdir(parents=True)
        write_dags(self.home / "dags")
        env = clean_environ()
        env["PATH"] = (
            f"{VENV / 'bin'}:{env.get('PATH', '')}"  # standalone spawns `airflow ...` by name
        )
        env.pop("VIRTUAL_ENV", None)
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{self.port}/execution/",
            }
        )
        env.update(extra_env or {})
        return env

    def start(
        self, write_dags: Callable[[Path], None], extra_env: dict[str, str] | None = None
    ) -> None:
        self.env = self.prepare(write_dags, extra_env)
        self.log_path.unlink(missing_ok=True)
        self.started = time.monotonic()
        self.proc = procs.start_session(
            [str(VENV / "bin" / "airflow"), "standalone"],
            env=self.env,
            log_path=self.log_path,
            cwd=ROOT,
        )

    def check_alive(self, what: str) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(
                f"{what}: airflow standalone exited (code {code}); last lines of {self.log_path}:\n"
                f"{procs.tail(self.log_path)}"
            )

    def wait_healthy(self, timeout: float = READY_TIMEOUT) -> float:
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            self.check_alive("airflow start-up")
            status, body = http_json(f"{self.base}/api/v2/monitor/health", timeout=2.0)
            if status == 200 and health_is_healthy(body):
                return time.monotonic() - self.started
            time.sleep(0.1)
        raise BenchError(
            f"airflow standalone not healthy after {timeout:g} s; see {self.log_path}:\n"
            f"{procs.tail(self.log_path)}"
        )

    def login(self, timeout: float = 120.0) -> None:
        password_file = self.home / "simple_auth_manager_passwords.json.generated"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if password_file.exists():
                try:
                    password = json.loads(password_file.read_text())["admin"]
                except (ValueError, KeyError):
                    password = None
                if password:
                    status, body = http_json(
                        f"{self.base}/auth/token",
                        method="POST",
                        body={"username": "admin", "password": password},
                    )
                    if status in (200, 201) and body and body.get("access_token"):
                        self.token = body["access_token"]
                        return
            time.sleep(0.5)
        raise BenchError(
            f"airflow: no token from {self.base}/auth/token within {timeout:g} s "
            f"(password file {password_file} present: {password_file.exists()})"
        )

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 60.0) -> Any:
        """One API call; a server error (SQLite "database is locked" under load, seen with
        Airflow's defaults) is tried again, up to ``API_ATTEMPTS`` times, as a user would."""
        for attempt in range(1, API_ATTEMPTS + 1):
            status, data = http_json(
                f"{self.base}/api/v2{path}",
                method=method,
                body=body,
                token=self.token,
                timeout=timeout,
            )
            if 200 <= status < 300:
                return data
            if status == 409 and attempt > 1 and method == "POST":
                return data  # an earlier attempt was stored after all
            if status < 500 or attempt == API_ATTEMPTS:
                raise BenchError(
                    f"airflow API {method} {path} answered {status or 'nothing'}"
                    f"{f' (attempt {attempt})' if attempt > 1 else ''}: {json.dumps(data)[:500]}"
                )
            self.retried += 1
            time.sleep(API_RETRY_DELAY * attempt)
        raise AssertionError("unreachable")

    def paged(self, path: str, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        separator = "&" if "?" in path else "?"
        while True:
            page = self.api("GET", f"{path}{separator}limit=100&offset={len(items)}")
            items.extend(page[key])
            if not page[key] or len(items) >= page.get("total_entries", 0):
                return items

    def wait_dags(
        self, dag_ids: set[str], timeout: float = PARSE_TIMEOUT, *, unpause: bool = True
    ) -> float:
        """Wait until Airflow stored every DAG; unpause them (Airflow creates DAGs paused)
        unless they were created unpaused."""
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        while time.monotonic() < deadline:
            self.check_alive("airflow DAG parsing")
            seen = {dag["dag_id"] for dag in self.paged("/dags?dag_id_pattern=bench_", "dags")}
            if dag_ids <= seen:
                parsed = time.monotonic() - self.started
                for dag_id in sorted(dag_ids) if unpause else ():
                    self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False})
                return parsed
            time.sleep(1.0)
        raise BenchError(
            f"airflow: DAGs {sorted(dag_ids - seen)} not parsed within {timeout:g} s; see "
            f"{self.home / 'logs' / 'dag_processor'}"
        )

    def settings(self, keys: Sequence[tuple[str, str]] = SETTINGS) -> dict[str, Any]:
        """The values Airflow runs with for ``keys`` (section, key)."""
        done = procs.run_timed(
            [str(VENV / "bin" / "python"), "-c", SETTINGS_PROBE % (list(keys),)],
            env=self.env,
            timeout=120,
            what="airflow settings probe",
        )
        if done.returncode != 0:
            return {"error": done.stderr.strip()[-300:]}
        return json.loads(done.stdout.strip().splitlines()[-1])

    def memory(self) -> procs.Memory:
        return (
            procs.memory_of(procs.session_pids(self.proc.pid))
            if self.proc
            else procs.Memory(0, 0, 0)
        )

    def cpu_seconds(self) -> float:
        return procs.cpu_seconds(procs.session_pids(self.proc.pid)) if self.proc else 0.0

    def stop(self) -> None:
        if self.proc is not None:
            procs.stop_session(self.proc, grace=60.0)
            self.proc = None


class AirflowRunner:
    """``runs.DagRunner`` over Airflow's REST API."""

    name = "airflow"

    def __init__(self, server: AirflowStandalone, log: Callable[[str], None]) -> None:
        self.server = server
        self.log = log

    def trigger(self, dag_id: str, run_id: str, logical_date: dt.datetime) -> None:
        self.server.api(
            "POST",
            f"/dags/{dag_id}/dagRuns",
            {"dag_run_id": run_id, "logical_date": logical_date.isoformat()},
        )

    def wait_runs(
        self, dag_id: str, run_ids: Sequence[str], timeout: float, what: str
    ) -> dict[str, RunRow]:
        started = time.monotonic()
        deadline, next_note = started + timeout, started + 30.0
        wanted = set(run_ids)
        runs: dict[str, RunRow] = {}
        unhealthy_since: float | None = None
        next_health = started + HEALTH_EVERY
        while time.monotonic() < deadline:
            self.server.check_alive(what)
            if time.monotonic() >= next_health:
                next_health = time.monotonic() + HEALTH_EVERY
                unhealthy_since = self._check_scheduler(what, unhealthy_since)
            runs = {
                item["dag_run_id"]: RunRow(
                    item["dag_run_id"],
                    item["state"],
                    parse_time(item.get("queued_at")),
                    parse_time(item.get("start_date")),
                    parse_time(item.get("end_date")),
                )
                for item in self.server.paged(f"/dags/{dag_id}/dagRuns", "dag_runs")
                if item["dag_run_id"] in wanted
            }
            if len(runs) == len(wanted) and all(run.state in FINISHED for run in runs.values()):
                return runs
            if time.monotonic() > next_note:
                self.log(
                    f"{what}: still waiting after {time.monotonic() - started:.0f} s "
                    f"(limit {timeout:g} s): {sorted(run.state for run in runs.values())}"
                )
                next_note += 30.0
            time.sleep(0.5)
        raise BenchError(
            f"{what}: timed out after {timeout:g} s waiting for Airflow runs of {dag_id}: "
            f"{ {run_id: run.state for run_id, run in runs.items()} }"
        )

    def _check_scheduler(self, what: str, unhealthy_since: float | None) -> float | None:
        """``airflow standalone`` keeps running when its scheduler died (seen: "database is
        locked" on SQLite): stop waiting once the health endpoint has called the scheduler
        unhealthy for ``SCHEDULER_GONE_AFTER`` seconds."""
        _status, body = http_json(f"{self.server.base}/api/v2/monitor/health", timeout=10.0)
        scheduler = body.get("scheduler", {}) if isinstance(body, dict) else {}
        if scheduler.get("status") != "unhealthy":
            return None
        now = time.monotonic()
        if unhealthy_since is None:
            return now
        if now - unhealthy_since >= SCHEDULER_GONE_AFTER:
            raise BenchError(
                f"{what}: Airflow's scheduler stopped (health: unhealthy for "
                f"{now - unhealthy_since:.0f} s, last heartbeat "
                f"{scheduler.get('latest_scheduler_heartbeat')}); see {self.server.log_path}"
            )
        return unhealthy_since

    def task_rows(self, dag_id: str, run_id: str) -> list[TaskRow]:
        items = self.server.paged(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", "task_instances"
        )
        return [
            TaskRow(
                item["task_id"],
                item["state"],
                parse_time(item.get("start_date")),
                parse_time(item.get("end_date")),
            )
            for item in items
        ]


def run_airflow(ctx: Context, workloads: list[RunWorkload], figures: FigureSet) -> dict[str, Any]:
    """Install if needed, start once, run every workload ``ctx.repeat`` times; Airflow's facts."""
    facts: dict[str, Any] = {"version": AIRFLOW_VERSION}
    python = ensure_installed(ctx.log)
    server = AirflowStandalone()
    try:
        server.start(
            lambda folder: [workload.dag.write(folder, "airflow") for workload in workloads]
        )
        ready = server.wait_healthy()
        figures.add("startup.ready", "Start-up: standalone launch → healthy", "s", ready)
        ctx.log(f"airflow healthy after {ready:.1f} s")
        server.login()
        parsed = server.wait_dags({workload.dag.dag_id for workload in workloads})
        facts["dags_parsed_after_s"] = parsed
        idle = 2.0 if ctx.quick else IDLE_SECONDS
        cpu_before = server.cpu_seconds()
        time.sleep(idle)
        figures.add(
            "startup.idle_cpu",
            "Idle CPU",
            "% of a core",
            (server.cpu_seconds() - cpu_before) / idle * 100,
        )
        memory = server.memory()
        figures.add("startup.rss", "Idle memory RSS", "MiB", memory.rss_mib)
        figures.add("startup.pss", "Idle memory PSS", "MiB", memory.pss_mib)
        figures.add("startup.processes", "Idle processes", "processes", memory.processes)
        ctx.log(
            f"airflow idle: {memory.processes} processes, RSS {memory.rss_mib:.0f} MiB, PSS "
            f"{memory.pss_mib:.0f} MiB"
        )
        facts["settings"] = server.settings()
        runner = AirflowRunner(server, ctx.log)
        measure_workloads(
            ctx,
            runner,
            workloads,
            figures,
            lambda workload: workload.airflow_timeout,
            lambda key, raw: ctx.keep_raw("airflow", key, raw),
        )
    except BenchError as exc:
        ctx.log(f"airflow FAILED: {exc}")
        facts["error"] = str(exc).splitlines()[0]
    finally:
        server.stop()
        facts["log"] = str(server.log_path)
        facts["api_retries"] = server.retried
    startup.run_import(
        ctx, figures, python=str(python), statement="from airflow.sdk import DAG, task"
    )
    try:
        listed = subprocess.run(
            [str(VENV / "bin" / "pip"), "list", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        names = [
            item["name"]
            for item in json.loads(listed.stdout)
            if item["name"] not in {"pip", "setuptools", "wheel"}
        ]
        figures.add(
            "startup.packages",
            "Packages installed",
            "packages",
            len(names),
            notes="pip list of the Airflow venv, without pip/setuptools/wheel",
        )
    except (subprocess.SubprocessError, ValueError) as exc:
        ctx.log(f"airflow package count failed: {exc}")
    return facts
