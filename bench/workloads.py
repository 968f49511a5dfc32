"""W1-W6: what each workload runs and how its figures come from the recorded timestamps.

Times are taken from the metastore, not from polling: "trigger to done" is the run's
``end_date`` minus the wall-clock instant just before the trigger call, a hop is a task's
``start_date`` minus its upstream's ``end_date``. Polling only decides when to look.

W1-W4 are ``RunWorkload``s: the same definitions run on Tradewind (``run_tradewind``) and,
through ``airflow_side``, on Airflow. W5 (parsing) and W6 (``dags test``) are Tradewind only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs
from bench.dag_templates import DagFile
from bench.figures import BenchError, FigureSet, Target
from bench.harness import TRADEWIND, Standalone, TradewindRunner, tradewind_env
from bench.metastore import BenchDatabase
from bench.runs import DagRunner, RunRow, TaskRow, utcnow


@dataclasses.dataclass(frozen=True)
class Sizes:
    w1_tasks: int = 20
    w2_tasks: int = 200
    w3_tasks: int = 50
    w4_runs: int = 20
    w4_tasks: int = 3
    w5_files: int = 200
    w5_tasks: int = 10
    baseline: int = 200
    #: W8: daily DAGs, finished runs of each (5 task instances per run), runs of the W1 DAG.
    w8_dags: int = 1000
    w8_runs: int = 200
    w8_chain_runs: int = 1000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            w2_tasks=20,
            w3_tasks=10,
            w4_runs=5,
            w5_files=20,
            baseline=20,
            w8_dags=20,
            w8_runs=20,
            w8_chain_runs=50,
        )


@dataclasses.dataclass
class Context:
    repeat: int
    quick: bool
    sizes: Sizes
    db: BenchDatabase
    work: Path
    log: Callable[[str], None]
    #: Unmeasured runs before the repetitions of W1-W4 (the first run of a DAG version starts
    #: processes and fills caches; W1's is reported on its own line).
    warmup: int = 1
    #: Per-task delays for the plot: raw[orchestrator][workload] = list of per-repetition dicts.
    raw: dict[str, dict[str, list[dict[str, Any]]]] = dataclasses.field(default_factory=dict)
    #: Free-form facts worth printing under the table (how things were measured).
    notes: list[str] = dataclasses.field(default_factory=list)

    def keep_raw(self, orchestrator: str, workload: str, data: dict[str, Any]) -> None:
        self.raw.setdefault(orchestrator, {}).setdefault(workload, []).append(data)


def _seconds(later: dt.datetime | None, earlier: dt.datetime | None) -> float:
    if later is None or earlier is None:
        raise BenchError("a timestamp needed for the figure is missing")
    return (later - earlier).total_seconds()


Analysis = tuple[dict[str, float], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class RunWorkload:
    """A DAG, how many runs one repetition triggers, and how figures follow from the rows."""

    key: str
    dag: DagFile
    runs: int
    timeout: float
    airflow_timeout: float
    figures: dict[str, tuple[str, str, Target | None]]
    analyze: Callable[[dt.datetime, dict[str, RunRow], dict[str, list[TaskRow]]], Analysis]


def _only(runs: dict[str, RunRow]) -> RunRow:
    return next(iter(runs.values()))


def _analyze_chain(
    t0: dt.datetime, runs: dict[str, RunRow], tasks: dict[str, list[TaskRow]]
) -> Analysis:
    run = _only(runs)
    rows = sorted(tasks[run.run_id], key=lambda row: row.task_id)
    hops = [_seconds(b.start_date, a.end_date) * 1000 for a, b in itertools.pairwise(rows)]
    values = {
        "W1.wall": _seconds(run.end_date, t0),
        "W1.hop_median": statistics.median(hops),
        "W1.first_start": _seconds(rows[0].start_date, t0) * 1000,
    }
    return values, {"hops_ms": hops, "task_ids": [row.task_id for row in rows[1:]]}


def _analyze_fanout(
    t0: dt.datetime, runs: dict[str, RunRow], tasks: dict[str, list[TaskRow]]
) -> Analysis:
    run = _only(runs)
    rows = tasks[run.run_id]
    start = next(row for row in rows if row.task_id == "start")
    middles = [row for row in rows if row.task_id.startswith("p")]
    delays = sorted(_seconds(row.start_date, start.end_date) * 1000 for row in middles)
    wall = _seconds(run.end_date, t0)
    return {"W2.wall": wall, "W2.rate": len(rows) / wall}, {"start_delays_ms": delays}


def _analyze_bash(
    t0: dt.datetime, runs: dict[str, RunRow], tasks: dict[str, list[TaskRow]]
) -> Analysis:
    run = _only(runs)
    wall = _seconds(run.end_date, t0)
    return {"W3.wall": wall, "W3.rate": len(tasks[run.run_id]) / wall}, {}


def _analyze_many_runs(
    t0: dt.datetime, runs: dict[str, RunRow], tasks: dict[str, list[TaskRow]]
) -> Analysis:
    ends = [run.end_date for run in runs.values()]
    wall = _seconds(max(end for end in ends if end is not None), t0)
    return {"W4.wall": wall}, {
        "run_walls_s": sorted(_seconds(run.end_date, t0) for run in runs.values())
    }


def run_workloads(sizes: Sizes) -> list[RunWorkload]:
    s = sizes
    return [
        RunWorkload(
            "W1",
            DagFile("W1", "bench_w1_chain", "chain", s.w1_tasks),
            1,
            60,
            600,
            {
                "W1.wall": (f"W1 chain ({s.w1_tasks} tasks): trigger → done", "s", None),
                "W1.hop_median": (
                    "W1 chain: median hop (upstream end → downstream start)",
                    "ms",
                    Target("<=", 3),
                ),
                "W1.first_start": ("W1 chain: trigger → first task start", "ms", None),
                "W1.cold": (
                    "W1 chain: the first run after start-up (the warm-up, not a repetition): "
                    "trigger → done",
                    "s",
                    None,
                ),
                "W1.idle_hop": (
                    "W1 chain: median hop of a run after a quiet minute (65 s without runs)",
                    "ms",
                    None,
                ),
                "W1.idle_ratio": (
                    "W1 chain: that hop ÷ the warm median hop",
                    "× warm",
                    Target("<", 1.2),
                ),
                "W1.new_version": (
                    "W1 chain: the first run of a new version (the DAG file changed while "
                    "Tradewind runs): trigger → done",
                    "s",
                    None,
                ),
                "W1.new_version_ratio": (
                    "W1 chain: that run ÷ the warm median run",
                    "× warm",
                    Target("<=", 1.5),
                ),
            },
            _analyze_chain,
        ),
        RunWorkload(
            "W2",
            DagFile("W2", "bench_w2_fanout", "fanout", s.w2_tasks),
            1,
            180,
            2400,
            {
                "W2.wall": (f"W2 fan-out (start → {s.w2_tasks} → end): trigger → done", "s", None),
                "W2.rate": ("W2 fan-out: task instances per second", "tasks/s", Target(">=", 500)),
            },
            _analyze_fanout,
        ),
        RunWorkload(
            "W3",
            DagFile("W3", "bench_w3_bash", "bash", s.w3_tasks),
            1,
            120,
            1200,
            {
                "W3.wall": (
                    f"W3 bash ({s.w3_tasks} parallel `echo hi`): trigger → done",
                    "s",
                    None,
                ),
                "W3.rate": ("W3 bash: task instances per second", "tasks/s", None),
            },
            _analyze_bash,
        ),
        RunWorkload(
            "W4",
            DagFile("W4", "bench_w4_runs", "chain", s.w4_tasks),
            s.w4_runs,
            120,
            1800,
            {
                "W4.wall": (
                    f"W4 {s.w4_runs} runs of a {s.w4_tasks}-task chain at once: until all "
                    "succeeded",
                    "s",
                    Target("<", 2),
                ),
                "W4.trigger": (
                    f"W4: triggering the {s.w4_runs} runs, back to back (part of the figure above)",
                    "s",
                    None,
                ),
            },
            _analyze_many_runs,
        ),
    ]


def measure_once(runner: DagRunner, workload: RunWorkload, rep: int, timeout: float) -> Analysis:
    """One repetition: trigger the runs back to back, wait, read the rows, compute."""
    dag_id = workload.dag.dag_id
    run_ids = [f"bench_{workload.key}_{rep}_{i}" for i in range(workload.runs)]
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rep)
    what = f"{runner.name} {workload.key} repetition {rep + 1}"
    t0 = utcnow()
    for i, run_id in enumerate(run_ids):
        runner.trigger(dag_id, run_id, base + dt.timedelta(minutes=i))
    triggered = utcnow()
    runs = runner.wait_runs(dag_id, run_ids, timeout, what)
    tasks = {run_id: runner.task_rows(dag_id, run_id) for run_id in run_ids}
    bad = {run_id: run.state for run_id, run in runs.items() if run.state != "success"}
    if bad:
        states = {run_id: sorted({str(row.state) for row in tasks[run_id]}) for run_id in bad}
        raise BenchError(f"{what}: run(s) did not succeed: {bad}; task states {states}")
    values, raw = workload.analyze(t0, runs, tasks)
    raw["trigger_call_s"] = (triggered - t0).total_seconds()
    raw["run_ids"] = run_ids
    trigger_key = f"{workload.key}.trigger"
    if trigger_key in workload.figures:
        values[trigger_key] = raw["trigger_call_s"]
    return values, raw


def warm_up(
    ctx: Context, runner: DagRunner, workload: RunWorkload, figures: FigureSet, timeout: float
) -> None:
    """``ctx.warmup`` runs before the repetitions, not counted; W1's first is kept as W1.cold."""
    for index in range(ctx.warmup):
        values, _raw = measure_once(
            runner, workload, 500 + index, timeout
        )  # its own run ids and dates
        if index == 0 and f"{workload.key}.cold" in workload.figures:
            record(figures, workload, {f"{workload.key}.cold": values[f"{workload.key}.wall"]})
        ctx.log(
            f"{runner.name} {workload.key} warm-up {index + 1}/{ctx.warmup}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        )


def measure_repetitions(
    ctx: Context,
    runner: DagRunner,
    workload: RunWorkload,
    figures: FigureSet,
    timeout: float,
    keep: Callable[[str, dict[str, Any]], None],
) -> None:
    """The warm-up runs, then ``ctx.repeat`` measured ones; each one's raw data to ``keep``
    (with the workload's key)."""
    warm_up(ctx, runner, workload, figures, timeout)
    for rep in range(ctx.repeat):
        values, raw = measure_once(runner, workload, rep, timeout)
        record(figures, workload, values)
        keep(workload.key, raw)
        ctx.log(
            f"{runner.name} {workload.key} {rep + 1}/{ctx.repeat}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        )


def measure_workloads(
    ctx: Context,
    runner: DagRunner,
    workloads: list[RunWorkload],
    figures: FigureSet,
    timeout_of: Callable[[RunWorkload], float],
    keep: Callable[[str, dict[str, Any]], None],
    on_failure: Callable[[FigureSet, RunWorkload, str], None] | None = None,
) -> None:
    """``measure_repetitions`` of each workload on one running orchestrator; a workload that
    fails is logged and its figures marked (``on_failure``, default ``fail``), and the next
    one still runs."""
    for workload in workloads:
        try:
            measure_repetitions(ctx, runner, workload, figures, timeout_of(workload), keep)
        except BenchError as exc:
            ctx.log(f"{runner.name} {workload.key} FAILED: {exc}")
            (on_failure or fail)(figures, workload, str(exc).splitlines()[0])


def record(figures: FigureSet, workload: RunWorkload, values: dict[str, float]) -> None:
    for key, value in values.items():
        label, unit, target = workload.figures[key]
        figures.add(key, label, unit, value, target=target)


def fail(figures: FigureSet, workload: RunWorkload, error: str) -> None:
    for key, (label, unit, target) in workload.figures.items():
        figures.fail(key, label, unit, error, target=target)


def run_tradewind(ctx: Context, workload: RunWorkload, figures: FigureSet) -> None:
    """A fresh home and standalone for the workload; ``ctx.repeat`` runs, one after another."""
    home = ctx.work / f"{workload.key.lower()}-home"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    workload.dag.write(dags, "tradewind")
    standalone = Standalone(home, dags, ctx.db)
    runner: TradewindRunner | None = None
    try:
        standalone.start()
        standalone.wait_ready({workload.dag.dag_id}, what=f"tradewind {workload.key}")
        runner = TradewindRunner(standalone)
        measure_repetitions(
            ctx,
            runner,
            workload,
            figures,
            workload.timeout,
            lambda key, raw: ctx.keep_raw("tradewind", key, raw),
        )
        if workload.key == "W1":
            after_idle(ctx, standalone, runner, workload, figures)
            new_version(ctx, standalone, runner, workload, figures)
        if runner.trigger_mode != "service":
            for key in workload.figures:
                figures.add(
                    key, *workload.figures[key][:2]
                ).notes = f"trigger via {runner.trigger_mode}"
    except BenchError as exc:
        ctx.log(f"tradewind {workload.key} FAILED: {exc}")
        fail(figures, workload, str(exc).splitlines()[0])
    finally:
        if runner is not None:
            runner.close()
        standalone.stop()


#: The quiet time before W1's after-idle run (longer than the minute launchers used to live).
IDLE_GAP = 65.0


def after_idle(
    ctx: Context,
    standalone: Standalone,
    runner: TradewindRunner,
    workload: RunWorkload,
    figures: FigureSet,
) -> None:
    """One more W1 run after ``IDLE_GAP`` seconds without runs: does it start warm?"""
    warm = figures.get("W1.hop_median")
    if warm is None or warm.median is None:
        return
    deadline = time.monotonic() + (2.0 if ctx.quick else IDLE_GAP)
    while time.monotonic() < deadline:
        standalone.check_alive("tradewind W1 after idle")
        time.sleep(0.5)
    values, _raw = measure_once(runner, workload, 900, workload.timeout)
    hop = values["W1.hop_median"]
    record(figures, workload, {"W1.idle_hop": hop, "W1.idle_ratio": hop / warm.median})
    ctx.log(f"tradewind W1 after idle: hop {hop:.2f} ms (warm {warm.median:.2f} ms)")


#: Seconds for the DAG processor to store the changed file's new version.
NEW_VERSION_WAIT = 120.0


def new_version(
    ctx: Context,
    standalone: Standalone,
    runner: TradewindRunner,
    workload: RunWorkload,
    figures: FigureSet,
) -> None:
    """One more W1 run once the DAG file changed (a new version, stored by the running DAG
    processor): its first run has no warm launcher of its own yet."""
    warm = figures.get("W1.wall")
    reader = standalone.reader
    if warm is None or warm.median is None or reader is None:
        return
    dag_id = workload.dag.dag_id
    before = reader.latest_version_id(dag_id)
    path = standalone.dags_folder / f"{dag_id}.py"
    path.write_text(path.read_text(encoding="utf-8") + "# a new version\n", encoding="utf-8")
    deadline = time.monotonic() + NEW_VERSION_WAIT
    while reader.latest_version_id(dag_id) == before:
        standalone.check_alive("tradewind W1 new version")
        if time.monotonic() > deadline:
            raise BenchError(f"no new version of {dag_id} within {NEW_VERSION_WAIT:g} s")
        time.sleep(0.1)
    values, _raw = measure_once(runner, workload, 950, workload.timeout)
    wall = values["W1.wall"]
    record(
        figures,
        workload,
        {"W1.new_version": wall, "W1.new_version_ratio": wall / warm.median},
    )
    ctx.log(f"tradewind W1 new version: {wall:.3f} s (warm {warm.median:.3f} s)")


_PARSED = re.compile(
    r"Parsed (\d+) files in ([\d.]+) s: (\d+) DAGs, (\d+) new versions, (\d+) files with import "
    r"errors"
)


def _reserialize(env: dict[str, str], what: str) -> tuple[float, float, int, int, int]:
    done = procs.run_timed([TRADEWIND, "dags", "reserialize"], env=env, timeout=300, what=what)
    match = _PARSED.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise BenchError(
            f"{what}: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}"
        )
    return done.seconds, float(match[2]), int(match[3]), int(match[4]), int(match[5])


#: A fresh DAG processor's ordinary (not forced) scan of the folder, what a restarted
#: ``standalone`` or ``dag-processor`` does first; prints its summary as JSON.
SCAN_PROBE = """
import json
from tradewind import config
from tradewind.dag_processing.manager import DagProcessor
from tradewind.services import db_admin
settings = config.load()
engine = db_admin.open_engine(settings)
summary = DagProcessor(settings, engine).run_once()
engine.dispose()
print(json.dumps({"seconds": summary.seconds, "files_parsed": summary.files_parsed,
                  "versions_added": summary.versions_added, "dags_seen": summary.dags_seen}))
"""


def _scan(env: dict[str, str], what: str) -> tuple[float, dict[str, Any]]:
    done = procs.run_timed([sys.executable, "-c", SCAN_PROBE], env=env, timeout=300, what=what)
    if done.returncode != 0:
        raise BenchError(f"{what}: exit {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.seconds, json.loads(done.stdout.strip().splitlines()[-1])


def run_parse(ctx: Context, figures: FigureSet) -> None:
    """W5 on a migrated, empty metastore: ``dags reserialize`` of N files; then an unchanged
    re-parse, twice over: a fresh processor's ordinary scan (files unchanged since they were
    stored are not imported again) and a forced ``dags reserialize`` (every file imported
    again, nothing new stored)."""
    n, tasks = ctx.sizes.w5_files, ctx.sizes.w5_tasks
    labels: dict[str, tuple[str, str, Target | None]] = {
        "W5.parse": (
            f"W5 parse {n} files × {tasks} tasks: until all stored (`dags reserialize`, whole "
            "command)",
            "s",
            Target("<", 10),
        ),
        "W5.parse_inner": ("W5 parse: processor's own time (inside that command)", "s", None),
        "W5.reparse": (
            "W5 unchanged re-parse: a fresh DAG processor's scan (whole process, mostly imports)",
            "s",
            None,
        ),
        "W5.reparse_inner": (
            "W5 unchanged re-parse: the processor's scan itself",
            "s",
            Target("<", 1),
        ),
        "W5.reimport": (
            "W5 forced re-parse of the unchanged files (`dags reserialize` again, whole command)",
            "s",
            None,
        ),
        "W5.reimport_inner": ("W5 forced re-parse: processor's own time", "s", None),
    }

    def add(key: str, value: float) -> None:
        label, unit, target = labels[key]
        figures.add(key, label, unit, value, target=target)

    try:
        for rep in range(ctx.repeat):
            home = ctx.work / "w5-home"
            shutil.rmtree(home, ignore_errors=True)
            dags = home / "dags"
            for i in range(n):
                DagFile("W5", f"bench_w5_{i:03d}", "chain", tasks).write(dags, "tradewind")
            env = tradewind_env(home, dags, ctx.db)
            migrated = procs.run_timed(
                [TRADEWIND, "db", "migrate"], env=env, timeout=120, what="tradewind db migrate"
            )
            if migrated.returncode != 0:
                raise BenchError(f"tradewind db migrate failed: {migrated.stderr.strip()[-500:]}")
            wall, inner, dags_seen, added, errors = _reserialize(env, "W5 first parse")
            if dags_seen != n or added != n or errors:
                raise BenchError(
                    f"W5 first parse stored {dags_seen} DAGs ({added} new versions, {errors} "
                    f"errors), expected {n}"
                )
            add("W5.parse", wall)
            add("W5.parse_inner", inner)
            scan_wall, scan = _scan(env, "W5 unchanged re-parse (processor scan)")
            if scan["versions_added"]:
                raise BenchError(
                    f"W5 scan of unchanged files stored {scan['versions_added']} new versions"
                )
            add("W5.reparse", scan_wall)
            add("W5.reparse_inner", scan["seconds"])
            wall2, inner2, dags_seen, added, errors = _reserialize(env, "W5 forced re-parse")
            if dags_seen != n or added != 0:
                raise BenchError(
                    f"W5 forced re-parse of unchanged files stored {added} new versions (expected "
                    "0)"
                )
            add("W5.reimport", wall2)
            add("W5.reimport_inner", inner2)
            ctx.log(
                f"tradewind W5 {rep + 1}/{ctx.repeat}: parse {wall:.2f} s (inner {inner:.2f}), "
                f"unchanged scan {scan_wall:.2f} s (inner {scan['seconds']:.2f}, "
                f"{scan['files_parsed']} files imported), forced re-parse {wall2:.2f} s (inner "
                f"{inner2:.2f})"
            )
    except BenchError as exc:
        ctx.log(f"tradewind W5 FAILED: {exc}")
        for key, (label, unit, target) in labels.items():
            figures.fail(key, label, unit, str(exc).splitlines()[0], target=target)


def run_dags_test(ctx: Context, figures: FigureSet) -> None:
    """W6: ``tradewind dags test`` of the W1 DAG, whole process, no server."""
    label = (f"W6 `dags test` of W1 ({ctx.sizes.w1_tasks} tasks): whole process", "s")
    home = ctx.work / "w6-home"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    DagFile("W6", "bench_w1_chain", "chain", ctx.sizes.w1_tasks).write(dags, "tradewind")
    env = tradewind_env(home, dags, ctx.db)
    try:
        for rep in range(ctx.repeat):
            done = procs.run_timed(
                [
                    TRADEWIND,
                    "dags",
                    "test",
                    "bench_w1_chain",
                    "--dags-folder",
                    str(dags),
                    "-o",
                    "json",
                ],
                env=env,
                timeout=120,
                what="tradewind dags test",
            )
            if done.returncode != 0:
                raise BenchError(
                    f"tradewind dags test exited {done.returncode}: {done.stderr.strip()[-500:]}"
                )
            figures.add("W6.wall", *label, done.seconds, target=Target("<=", 0.3))
            ctx.log(f"tradewind W6 {rep + 1}/{ctx.repeat}: {done.seconds:.3f} s")
            time.sleep(0.2)
    except BenchError as exc:
        ctx.log(f"tradewind W6 FAILED: {exc}")
        figures.fail("W6.wall", *label, str(exc).splitlines()[0], target=Target("<=", 0.3))
