"""W8 long history: the same measurements on a metastore without history and on one holding
years of it, reported as history/empty ratios (target: under 1.5x).

Both metastores hold the same DAGs (the W1 and W2 DAGs and ``w8_dags`` daily DAGs, cloned
in bulk from one parsed template, see ``history_fill``), so the ratio is about history alone
(W7 measures the number of DAGs). The empty one holds no runs but what fills the pages
measured (``PAGE_RUNS`` of the W1 DAG, ``RECENT_RUNS`` of each daily DAG for the DAG list's
bars), so every page shows as much on both sides. The history one holds ``w8_runs`` finished
runs of each daily DAG (5 task instances each) and ``w8_chain_runs`` runs of the W1 DAG, whose
grid is measured. Measured on each: W1, W2 and W4 (as ``run_tradewind`` measures them; W4 has
several runs running at once, which single-run workloads never have), full scheduler
passes (``pass_probe``, standalone stopped), and the DAG list, grid and task instance list,
REST and UI, through a running ``standalone``. The two metastores are measured turn by turn,
both standalones up at once, so that the machine's load weighs on both sides alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import history_fill, metastore, procs
from bench.figures import BenchError, FigureSet, Target
from bench.harness import TRADEWIND, Standalone, TradewindRunner, http_json, tradewind_env
from bench.metastore import BenchDatabase, MetastoreReader
from bench.workloads import Context, RunWorkload, measure_once, run_workloads, warm_up

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("empty", "history")
PAGE_GETS = 5
PASSES = 10
RATIO_TARGET = Target("<", 1.5)
#: Runs of the W1 DAG in the "empty" metastore: enough to fill the pages measured (the API's
#: page is 50, the grid's 25), so both sides show as many rows and the ratio is about what
#: lies beyond the page.
PAGE_RUNS = 50
#: Runs of each daily DAG in the "empty" metastore: the DAG list's bars of recent runs.
RECENT_RUNS = 10


class PrefilledStandalone(Standalone):
    """``standalone`` on a home whose metastore was prepared beforehand (``Standalone.start``
    would hand it a new, empty PostgreSQL database)."""

    def __init__(self, home: Path, dags_folder: Path, env: dict[str, str], url: str) -> None:
        super().__init__(home, dags_folder, db=None)  # type: ignore[arg-type]
        self.prepared_env = env
        self.url = url

    def start(self) -> None:
        self.env = dict(self.prepared_env, TRADEWIND__API__PORT=str(self.port))
        self.reader = MetastoreReader(self.url)
        self.started = time.monotonic()
        self.proc = procs.start_session(
            [TRADEWIND, "standalone"], env=self.env, log_path=self.log_path, cwd=self.home
        )


@dataclasses.dataclass
class Phase:
    """One metastore (empty or with history) and what was measured on it."""

    label: str
    home: Path
    dags: Path
    env: dict[str, str]
    url: str
    #: The PostgreSQL server and database of this metastore (None on SQLite).
    server: BenchDatabase | None = None
    database: str | None = None
    values: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def drop(self) -> None:
        if self.server is not None and self.database is not None:
            self.server._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self.database = None


def _fresh_postgres(server: BenchDatabase, name: str) -> str:
    """A new, empty database ``name`` on the bench's server (both metastores live at once)."""
    server._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    server._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
    url = make_url(server.server_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


#: Figure key -> (label, unit). Rates are better high: their ratio is empty / history.
MEASURES: dict[str, tuple[str, str]] = {
    "W1.hop_median": ("W1 chain: median hop", "ms"),
    "W1.wall": ("W1 chain: trigger → done", "s"),
    "W2.rate": ("W2 fan-out: task instances per second", "tasks/s"),
    "W2.wall": ("W2 fan-out: trigger → done", "s"),
    "W4.wall": ("W4 many runs at once: until all succeeded", "s"),
    "pass.full": ("scheduler: one full pass (idle, standalone stopped)", "ms"),
    "pass.recover": ("scheduler: one full pass with orphan recovery", "ms"),
    "api.dags": ("GET /api/v2/dags", "ms"),
    "api.runs": ("GET /api/v2/dags/{W1}/dagRuns", "ms"),
    "api.tis_all": ("GET /api/v2/dags/~/dagRuns/~/taskInstances", "ms"),
    "api.tis_dag": ("GET /api/v2/dags/{W1}/dagRuns/~/taskInstances", "ms"),
    "api.tis_run": ("GET /api/v2/dags/{W1}/dagRuns/{run}/taskInstances", "ms"),
    "ui.dags": ("UI: DAG list page /dags", "ms"),
    "ui.grid": ("UI: grid page /dags/{W1}", "ms"),
    "ui.grid_json": ("UI: grid data /dags/{W1}/grid.json", "ms"),
    "ui.run": ("UI: run page (its task instances) /dags/{W1}/runs/{run}", "ms"),
    "ui.runs": ("UI: runs list /runs", "ms"),
}


def _pages(chain: str, run_id: str) -> dict[str, str]:
    return {
        "api.dags": "/api/v2/dags",
        "api.runs": f"/api/v2/dags/{chain}/dagRuns",
        "api.tis_all": "/api/v2/dags/~/dagRuns/~/taskInstances",
        "api.tis_dag": f"/api/v2/dags/{chain}/dagRuns/~/taskInstances",
        "api.tis_run": f"/api/v2/dags/{chain}/dagRuns/{run_id}/taskInstances",
        "ui.dags": "/dags",
        "ui.grid": f"/dags/{chain}",
        "ui.grid_json": f"/dags/{chain}/grid.json",
        "ui.run": f"/dags/{chain}/runs/{run_id}",
        "ui.runs": "/runs",
    }


def run_history(ctx: Context, figures: FigureSet) -> None:
    """W8: prepare both metastores, then measure them turn by turn (see ``measure``)."""
    workloads = {
        spec.key: spec for spec in run_workloads(ctx.sizes) if spec.key in {"W1", "W2", "W4"}
    }
    phases: list[Phase] = []
    try:
        for label in PHASES:
            phases.append(prepare(ctx, label, workloads, figures))
        measure(ctx, phases, workloads)
    except BenchError as exc:
        ctx.log(f"tradewind W8 FAILED: {exc}")
        figures.fail("W8", "W8 long history", "×", str(exc).splitlines()[0], target=RATIO_TARGET)
        return
    finally:
        for phase in phases:
            phase.drop()
    empty, history = phases
    for key, (label, unit) in MEASURES.items():
        for phase in phases:
            for value in phase.values.get(key, []):
                figures.add(f"W8.{phase.label}.{key}", f"W8 {phase.label}: {label}", unit, value)
    for key, (label, unit) in MEASURES.items():
        before, after = empty.values.get(key), history.values.get(key)
        if not before or not after:
            continue
        a, b = statistics.median(before), statistics.median(after)
        ratio = a / b if unit == "tasks/s" else b / a
        figures.add(
            f"W8.ratio.{key}", f"W8 history/empty: {label}", "×", ratio, target=RATIO_TARGET
        )


def prepare(
    ctx: Context, label: str, workloads: dict[str, RunWorkload], figures: FigureSet
) -> Phase:
    """A migrated metastore with the DAGs stored, and with ``label == "history"`` their past."""
    home = ctx.work / f"w8-{label}-home"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    for spec in workloads.values():
        spec.dag.write(dags, "tradewind")
    template = dags / f"{history_fill.TEMPLATE_ID}.py"
    template.write_text(history_fill.history_dag_source(history_fill.TEMPLATE_ID), encoding="utf-8")
    env = tradewind_env(home, dags, BenchDatabase("sqlite"))
    url = f"sqlite:///{home / 'tradewind.db'}"
    database = None
    if ctx.db.kind == "postgres":
        database = f"{metastore.POSTGRES_DATABASE}_w8_{label}"
        url = _fresh_postgres(ctx.db, database)
        env["TRADEWIND__DATABASE__URL"] = url
    phase = Phase(label, home, dags, env, url, ctx.db if database else None, database)
    try:
        _fill(ctx, phase, workloads, figures)
    except BaseException:
        phase.drop()  # the caller only drops the phases it got
        raise
    return phase


def _fill(
    ctx: Context, phase: Phase, workloads: dict[str, RunWorkload], figures: FigureSet
) -> None:
    """Migrate, store the workload DAGs and the template, clone it, write the history."""
    s, env, dags, label = ctx.sizes, phase.env, phase.dags, phase.label
    for argv in (["db", "migrate"], ["dags", "reserialize"]):
        done = procs.run_timed([TRADEWIND, *argv], env=env, timeout=300, what=" ".join(argv))
        if done.returncode != 0:
            raise BenchError(f"W8 tradewind {' '.join(argv)}: {done.stderr.strip()[-500:]}")
    engine = sqlalchemy.create_engine(phase.url)
    try:
        started = time.monotonic()
        histories = history_fill.clone_dags(engine, dags, s.w8_dags)
        _schedule_tomorrow(engine)
        cloned = time.monotonic() - started
        chain = workloads["W1"].dag.dag_id
        version_id, task_ids = history_fill.stored_dag(engine, chain)
        if label == "empty":
            page = [dataclasses.replace(h, runs=RECENT_RUNS) for h in histories]
            page.append(history_fill.DagHistory(chain, version_id, task_ids, PAGE_RUNS))
            history_fill.write_history(engine, page)
        else:
            histories = [dataclasses.replace(h, runs=s.w8_runs) for h in histories]
            histories.append(history_fill.DagHistory(chain, version_id, task_ids, s.w8_chain_runs))
            summary = history_fill.write_history(engine, histories)
            analyzed = time.monotonic()
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    # What autovacuum does after a bulk load (PostgreSQL 13 and later vacuum
                    # after inserts too, which lets index-only scans skip the table).
                    conn.execute(text("VACUUM ANALYZE"))
            figures.add(
                "W8.prefill",
                f"W8 prefill: {summary.dags} DAGs cloned, {summary.runs:,} runs and "
                f"{summary.task_instances:,} task instances inserted (PostgreSQL: and VACUUM "
                "ANALYZE)",
                "s",
                cloned + summary.seconds + time.monotonic() - analyzed,
            )
            ctx.log(
                f"W8 prefill: {summary.dags} DAGs in {cloned:.1f} s, {summary.runs} runs and "
                f"{summary.task_instances} task instances in {summary.seconds:.1f} s"
            )
    finally:
        engine.dispose()


def _schedule_tomorrow(engine: sqlalchemy.Engine) -> None:
    """Unpause the daily DAGs with their next run due tomorrow, as a caught-up deployment
    has them (paused by ``dags reserialize``, and due now, they would not look real)."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + dt.timedelta(days=1)
    dag = history_fill._table("dag")
    with engine.begin() as conn:
        conn.execute(
            dag.update()
            .where(dag.c.dag_id.like("bench_w8_history_%"))
            .values(
                is_paused=False,
                next_dagrun=today,
                next_dagrun_data_interval_start=today,
                next_dagrun_data_interval_end=tomorrow,
                next_dagrun_create_after=tomorrow,
            )
        )


def measure(ctx: Context, phases: list[Phase], workloads: dict[str, RunWorkload]) -> None:
    """Both standalones up at once and measured turn by turn (W1, W2, W4, each page), then the
    passes with both stopped: a busy machine then slows both sides alike, where measuring one
    metastore after the other gave ratios of 2 between pages doing the very same work."""
    standalones = [PrefilledStandalone(p.home, p.dags, p.env, p.url) for p in phases]
    runners: list[TradewindRunner] = []
    scratch = FigureSet()
    try:
        for phase, standalone in zip(phases, standalones, strict=True):
            standalone.start()
            standalone.wait_ready(
                {spec.dag.dag_id for spec in workloads.values()},
                timeout=180,
                what=f"W8 {phase.label}",
            )
            runners.append(TradewindRunner(standalone))
        for spec in workloads.values():
            for runner in runners:
                warm_up(ctx, runner, spec, scratch, spec.timeout)
            for rep in range(ctx.repeat):
                for phase, runner in zip(phases, runners, strict=True):
                    values, _raw = measure_once(runner, spec, rep, spec.timeout)
                    for key in (f"{spec.key}.hop_median", f"{spec.key}.wall", f"{spec.key}.rate"):
                        if key in values:
                            phase.add(key, values[key])
                    ctx.log(
                        f"W8 {phase.label} {spec.key} {rep + 1}/{ctx.repeat}: "
                        + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
                    )
        chain = workloads["W1"].dag.dag_id
        measure_pages(ctx, phases, standalones, _pages(chain, f"bench_W1_{ctx.repeat - 1}_0"))
    finally:
        for runner in runners:
            runner.close()
        for standalone in standalones:
            standalone.stop()
    for _round in range(ctx.repeat):
        for phase in phases:
            measure_passes(ctx, phase)


def _token(phase: Phase, base: str) -> str:
    password = (phase.home / "standalone_admin_password.txt").read_text().strip()
    status, body = http_json(
        f"{base}/auth/token", method="POST", body={"username": "admin", "password": password}
    )
    if status not in (200, 201) or not body:
        raise BenchError(f"W8 {phase.label}: POST /auth/token answered {status}")
    return str(body["access_token"])


def measure_pages(
    ctx: Context, phases: list[Phase], standalones: Sequence[Standalone], pages: dict[str, str]
) -> None:
    """Each page ``PAGE_GETS`` times on one side, then on the other, ``ctx.repeat`` times."""
    bases = [f"http://127.0.0.1:{standalone.port}" for standalone in standalones]
    tokens = [_token(phase, base) for phase, base in zip(phases, bases, strict=True)]
    for key, path in pages.items():
        for phase, base, token in zip(phases, bases, tokens, strict=True):
            status, _ = http_json(base + path, token=token, timeout=60)  # warm: not counted
            if status != 200:
                raise BenchError(f"W8 {phase.label}: GET {path} answered {status}")
        for _rep in range(ctx.repeat):
            for phase, base, token in zip(phases, bases, tokens, strict=True):
                times = []
                for _ in range(PAGE_GETS):
                    started = time.perf_counter()
                    http_json(base + path, token=token, timeout=60)
                    times.append((time.perf_counter() - started) * 1000)
                phase.add(key, statistics.median(times))
        ctx.log(
            f"W8 {path}: "
            + ", ".join(
                f"{phase.label} {statistics.median(phase.values[key]):.1f} ms" for phase in phases
            )
        )


def measure_passes(ctx: Context, phase: Phase) -> None:
    done = procs.run_timed(
        [sys.executable, "-m", "bench.pass_probe", str(PASSES)],
        env=phase.env,
        cwd=ROOT,
        timeout=600,
        what="W8 scheduler pass probe",
    )
    if done.returncode != 0:
        raise BenchError(f"W8 {phase.label} pass probe: {done.stderr.strip()[-500:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for kind in ("full", "recover"):
        for value in found[kind]:
            phase.add(f"pass.{kind}", value * 1000)
    ctx.log(
        f"W8 {phase.label} scheduler pass: full {statistics.median(found['full']) * 1000:.1f} ms, "
        f"with recovery {statistics.median(found['recover']) * 1000:.1f} ms"
    )
