"""W7: many DAGs on a tight schedule, on Tradewind and (with ``--airflow``) on Airflow.

``dags`` DAG files, each ``*/1 * * * *`` with three chained no-op tasks and catchup off, run
for ``minutes`` after every DAG is stored. Figures come from the metastore once the window
has closed:

- run creation lag: a run's ``queued_at`` minus its data interval's end. A run that was due in
  the window but does not exist when it closes counts with the lag it had reached by then (a
  lower bound), so falling behind shows in the percentiles instead of vanishing from them;
- task start lag: a task's start minus the moment it became ready (its upstream's end, or the
  run's ``queued_at`` for the first task);
- runs done vs due: runs due at least ``DONE_GRACE`` seconds before the window closed, and how
  many of them had succeeded by then;
- the scheduler process's own CPU over the window (its children, the tries, not included),
  and the whole deployment's.

With ``--db postgres`` Airflow runs on the same PostgreSQL server as Tradewind, in a database
of its own (``AIRFLOW_DATABASE``); otherwise on its SQLite default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from bench import procs
from bench.dag_templates import DagFile
from bench.figures import BenchError, FigureSet, Target
from bench.harness import Standalone
from bench.metastore import MetastoreReader
from bench.runs import parse_time, utcnow
from bench.workloads import Context

#: Runs due less than this many seconds before the window closed are not counted as due.
DONE_GRACE = 30.0
PARSE_TIMEOUT = 900.0
#: Airflow's database for W7 on PostgreSQL (beside Tradewind's ``tw_bench``).
AIRFLOW_DATABASE = "airflow_bench"
MINUTE = dt.timedelta(minutes=1)
#: Runs a query (SQL text with ``:name`` parameters) on a metastore: its rows.
Fetch = Callable[[str, dict[str, object]], list[tuple[object, ...]]]


@dataclasses.dataclass(frozen=True)
class ManyDags:
    dags: int = 1000
    minutes: float = 5.0

    @classmethod
    def quick(cls) -> ManyDags:
        return cls(dags=20, minutes=1.5)

    def files(self) -> list[DagFile]:
        return [DagFile("W7", f"bench_w7_{i:04d}", "tight", 3) for i in range(self.dags)]


@dataclasses.dataclass(frozen=True)
class W7Run:
    dag_id: str
    due: dt.datetime
    state: str
    queued_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class W7Task:
    dag_id: str
    due: dt.datetime
    task_id: str
    start_date: dt.datetime | None
    end_date: dt.datetime | None


FIGURES: dict[str, tuple[str, str, Target | None]] = {
    "W7.run_lag_p50": ("W7 many DAGs: run creation lag p50 (queued − interval end)", "s", None),
    "W7.run_lag_p99": (
        "W7 many DAGs: run creation lag p99 (queued − interval end)",
        "s",
        Target("<", 2.0),
    ),
    "W7.task_lag_p99": ("W7 many DAGs: task start lag p99 (start − ready)", "s", None),
    "W7.done_pct": (
        "W7 many DAGs: runs succeeded of those due (due ≥ 30 s before the window closed)",
        "%",
        Target(">=", 100.0),
    ),
    "W7.tasks_per_s": ("W7 many DAGs: task instances succeeded per second", "tasks/s", None),
    "W7.scheduler_cpu": (
        "W7 many DAGs: scheduler process CPU over the window",
        "% of a core",
        Target("<", 50.0),
    ),
    "W7.all_cpu": ("W7 many DAGs: CPU of all processes over the window", "% of a core", None),
}


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0-100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100.0 * len(ordered) + 0.4999)))
    return ordered[rank - 1]


def due_times(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Minute boundaries in (start, end]: the data interval ends that fall in the window."""
    first = start.replace(second=0, microsecond=0) + MINUTE
    out = []
    while first <= end:
        out.append(first)
        first += MINUTE
    return out


def analyze(
    dag_ids: Iterable[str],
    runs: list[W7Run],
    tasks: list[W7Task],
    start: dt.datetime,
    end: dt.datetime,
    chain: tuple[str, ...] = ("a", "b", "c"),
) -> dict[str, float]:
    """The W7 figures (except CPU) from the runs and task instances of the window."""
    dues = due_times(start, end)
    by_run = {(run.dag_id, run.due): run for run in runs}
    run_lags: list[float] = []
    done = expected = 0
    for dag_id in dag_ids:
        for due in dues:
            run = by_run.get((dag_id, due))
            if run is not None and run.queued_at is not None:
                run_lags.append((run.queued_at - due).total_seconds())
            else:
                run_lags.append((end - due).total_seconds())
            if (end - due).total_seconds() >= DONE_GRACE:
                expected += 1
                done += run is not None and run.state == "success"
    if not run_lags:
        raise BenchError("W7: the window held no minute boundary")
    task_by_key = {(t.dag_id, t.due, t.task_id): t for t in tasks}
    task_lags: list[float] = []
    succeeded = 0
    for run in runs:
        ready = run.queued_at
        for task_id in chain:
            task = task_by_key.get((run.dag_id, run.due, task_id))
            if task is None or task.start_date is None or ready is None:
                break
            task_lags.append((task.start_date - ready).total_seconds())
            if task.end_date is None:
                break
            succeeded += 1
            ready = task.end_date
    return {
        "W7.run_lag_p50": percentile(run_lags, 50),
        "W7.run_lag_p99": percentile(run_lags, 99),
        "W7.task_lag_p99": percentile(task_lags, 99) if task_lags else float("nan"),
        "W7.done_pct": 100.0 * done / expected if expected else float("nan"),
        "W7.tasks_per_s": succeeded / (end - start).total_seconds(),
    }


def _window_rows(
    fetch: Fetch,
    start: dt.datetime,
    end: dt.datetime,
    naive: bool,
) -> tuple[list[W7Run], list[W7Task]]:
    """Runs whose interval ended in the window and their task instances, through ``fetch``."""

    def bound(value: dt.datetime) -> object:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if naive else value

    params = {"start": bound(start), "end": bound(end), "pattern": "bench_w7_%"}
    run_rows = fetch(
        "SELECT dag_id, run_id, data_interval_end, state, queued_at FROM dag_run "
        "WHERE dag_id LIKE :pattern AND data_interval_end > :start AND data_interval_end <= :end",
        params,
    )
    runs: list[W7Run] = []
    due_by_run: dict[tuple[str, str], dt.datetime] = {}
    for dag_id, run_id, due, state, queued in run_rows:
        due_at = parse_time(due)
        if due_at is None:
            continue
        runs.append(W7Run(str(dag_id), due_at, str(state), parse_time(queued)))
        due_by_run[(str(dag_id), str(run_id))] = due_at
    task_rows = fetch(
        "SELECT ti.dag_id, ti.run_id, ti.task_id, ti.start_date, ti.end_date "
        "FROM task_instance ti JOIN dag_run r ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id "
        "WHERE r.dag_id LIKE :pattern AND r.data_interval_end > :start "
        "AND r.data_interval_end <= :end",
        params,
    )
    tasks = [
        W7Task(
            str(dag_id),
            due_by_run[(str(dag_id), str(run_id))],
            str(task_id),
            parse_time(started),
            parse_time(ended),
        )
        for dag_id, run_id, task_id, started, ended in task_rows
        if (str(dag_id), str(run_id)) in due_by_run
    ]
    return runs, tasks


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process itself (not of its reaped children)."""
    fields = procs._stat_fields(pid)
    if fields is None:
        return 0.0
    return sum(int(value) for value in fields[11:13]) / procs.os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class Window:
    """The measured minutes: wall-clock bounds and CPU read at both ends."""

    start: dt.datetime
    end: dt.datetime
    scheduler_cpu: float
    all_cpu: float

    def cpu_figures(self) -> dict[str, float]:
        seconds = (self.end - self.start).total_seconds()
        return {
            "W7.scheduler_cpu": 100.0 * self.scheduler_cpu / seconds,
            "W7.all_cpu": 100.0 * self.all_cpu / seconds,
        }


def hold_window(
    minutes: float,
    scheduler_pid: Callable[[], int],
    all_pids: Callable[[], list[int]],
    check_alive: Callable[[], None],
    log: Callable[[str], None],
) -> Window:
    """Sleep through the window, reading CPU at its ends."""
    pid = scheduler_pid()
    sched_before, all_before = own_cpu_seconds(pid), procs.cpu_seconds(all_pids())
    start = utcnow()
    deadline = time.monotonic() + minutes * 60.0
    next_note = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        check_alive()
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= next_note:
            log(f"W7: {round((time.monotonic() - deadline) / -60.0, 1)} min left")
            next_note += 60.0
    end = utcnow()
    return Window(
        start,
        end,
        own_cpu_seconds(pid) - sched_before,
        procs.cpu_seconds(all_pids()) - all_before,
    )


def record(figures: FigureSet, values: dict[str, float], notes: str = "") -> None:
    for key, value in values.items():
        label, unit, target = FIGURES[key]
        figures.add(key, label, unit, value, target=target, notes=notes)


def fail_all(figures: FigureSet, error: str) -> None:
    for key, (label, unit, target) in FIGURES.items():
        figures.fail(key, label, unit, error, target=target)


def run_tradewind(ctx: Context, size: ManyDags, figures: FigureSet) -> None:
    """One standalone with ``size.dags`` DAG files; one window (this workload takes minutes)."""
    home = ctx.work / "w7-home"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    files = size.files()
    for dag in files:
        dag.write(dags, "tradewind")
    standalone = Standalone(home, dags, ctx.db)
    try:
        standalone.start()
        ready = standalone.wait_ready(
            {dag.dag_id for dag in files}, timeout=PARSE_TIMEOUT, what="tradewind W7"
        )
        ctx.log(f"tradewind W7: {size.dags} DAGs stored after {ready.dags_seconds or 0:.1f} s")
        assert standalone.proc is not None
        root = standalone.proc.pid

        def check() -> None:
            standalone.check_alive("tradewind W7")

        window = hold_window(
            size.minutes, lambda: root, lambda: procs.session_pids(root), check, ctx.log
        )
        assert standalone.reader is not None
        fetch = reader_fetch(standalone.reader)
        conclude(ctx, "tradewind", size, figures, fetch, window, naive=ctx.db.kind == "sqlite")
    except BenchError as exc:
        ctx.log(f"tradewind W7 FAILED: {exc}")
        fail_all(figures, str(exc).splitlines()[0])
    finally:
        standalone.stop()


def conclude(
    ctx: Context,
    name: str,
    size: ManyDags,
    figures: FigureSet,
    fetch: Fetch,
    window: Window,
    *,
    naive: bool,
) -> None:
    """Read the window's runs through ``fetch`` and record the figures."""
    runs, tasks = _window_rows(fetch, window.start, window.end, naive)
    dag_ids = [dag.dag_id for dag in size.files()]
    values = analyze(dag_ids, runs, tasks, window.start, window.end)
    values.update(window.cpu_figures())
    record(figures, values, notes=f"{size.dags} DAGs, {size.minutes:g} min")
    ctx.log(f"{name} W7: " + ", ".join(f"{k} {v:.4g}" for k, v in values.items()))


def reader_fetch(reader: MetastoreReader) -> Fetch:
    def fetch(sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
        rows = reader._rows(sql, **params)
        if rows is None:
            raise BenchError("W7: the metastore could not be read")
        return [tuple(row) for row in rows]

    return fetch


def sqlite_fetch(path: Path) -> Fetch:
    def fetch(sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            return list(conn.execute(sql, params))

    return fetch


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _parent(pid: int) -> int:
    fields = procs._stat_fields(pid)
    return int(fields[1]) if fields else 0


def airflow_scheduler_pid(root: int) -> int:
    """The ``airflow scheduler`` process of a standalone (not the workers it forked)."""
    found = [pid for pid in procs.session_pids(root) if "airflow scheduler" in _cmdline(pid)]
    tops = [pid for pid in found if _parent(pid) not in found]
    if not tops:
        raise BenchError("W7: no `airflow scheduler` process found in airflow standalone")
    return min(tops)


def run_airflow(ctx: Context, size: ManyDags, figures: FigureSet) -> None:
    """The same DAG files on ``airflow standalone`` (created unpaused: only that setting and the
    ports differ from its defaults)."""
    from bench import airflow_side

    files = size.files()
    server = airflow_side.AirflowStandalone()
    reader: MetastoreReader | None = None
    try:
        airflow_side.ensure_installed(ctx.log)
        extra_env = {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False"}
        if ctx.db.kind == "postgres":
            # Airflow on the same server as Tradewind, in a database of its own.
            airflow_side.ensure_postgres_driver(ctx.log)
            url = ctx.db.recreate(AIRFLOW_DATABASE, "postgresql+psycopg2")
            extra_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = url
            reader = MetastoreReader(url.replace("postgresql+psycopg2", "postgresql+psycopg", 1))
        server.start(
            lambda folder: [dag.write(folder, "airflow") for dag in files], extra_env=extra_env
        )
        server.wait_healthy()
        server.login()
        parsed = server.wait_dags({dag.dag_id for dag in files}, timeout=1800.0, unpause=False)
        ctx.log(f"airflow W7: {size.dags} DAGs stored after {parsed:.1f} s")
        assert server.proc is not None
        root = server.proc.pid

        def check() -> None:
            server.check_alive("airflow W7")

        window = hold_window(
            size.minutes,
            lambda: airflow_scheduler_pid(root),
            lambda: procs.session_pids(root),
            check,
            ctx.log,
        )
        if reader is None:
            conclude(
                ctx,
                "airflow",
                size,
                figures,
                sqlite_fetch(server.home / "airflow.db"),
                window,
                naive=True,
            )
        else:
            conclude(ctx, "airflow", size, figures, reader_fetch(reader), window, naive=False)
    except BenchError as exc:
        ctx.log(f"airflow W7 FAILED: {exc}")
        fail_all(figures, str(exc).splitlines()[0])
    finally:
        server.stop()
        if reader is not None:
            reader.close()
