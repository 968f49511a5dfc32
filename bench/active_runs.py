"""W9 many active runs: does a scheduler pass cost more when more runs are active?

A 10-task DAG shaped as a chain of fan-outs (start → 4 parallel → join → 3 parallel → end,
``bench/dags/stages.py.tmpl``, ``max_active_runs=500``) gets N runs created in one
transaction (then the scheduler's wake-up), for N in ``SIZES``, each size on a fresh home and
``standalone``. Per size: trigger → all runs succeeded, task instances per second, the
scheduler's pass time (median and p95, from the one DEBUG line per pass that
``[logging] logging_level = DEBUG`` adds), the runs a pass decides on average, and the
scheduler process's own CPU (user + system of the standalone's main process, where the
scheduler and its executor run) per task instance decided. The figure the workload exists
for is the last one's ratio between the largest and the smallest size: flat means a pass
costs what its events cost, not what the number of active runs costs.

Throughput is bounded by ``core.parallelism`` (32 tries at once, the default, kept) and
``max_active_tasks`` (16 per run, the default), not by the number of runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.dag_templates import DagFile
from bench.figures import BenchError, FigureSet, Target
from bench.harness import Standalone
from bench.runs import utcnow
from bench.workloads import Context
from tradewind import config, wakeup
from tradewind.db import engine as db_engine
from tradewind.sdk import timezone
from tradewind.services import dag_runs, db_admin

SIZES = (10, 100, 500)
QUICK_SIZES = (5, 25)
TASKS = 10
DAG_ID = "bench_w9_stages"
#: The cost per decided task may grow this much from the smallest size to the largest.
FLAT = Target("<", 1.25)

_PASS_LINE = re.compile(
    r"Pass in ([\d.]+) ms, ([\d.]+) ms CPU \((\w+)\): (\d+) events, (\d+) runs with (\d+) task "
    r"instances\s+decided"
)


def sizes(ctx: Context) -> tuple[int, ...]:
    return QUICK_SIZES if ctx.quick else SIZES


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` itself (not of its children: tries run elsewhere)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    # utime and stime are fields 14 and 15 of /proc/PID/stat (1-based).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pass_lines(log_path: Path, offset: int) -> list[tuple[float, float, int]]:
    """(milliseconds, CPU milliseconds, runs decided) of each scheduler pass logged after byte
    ``offset``."""
    with log_path.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    return [(float(m[1]), float(m[2]), int(m[5])) for m in _PASS_LINE.finditer(text)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class BulkTrigger:
    """Creates many manual runs in one transaction, then wakes the scheduler once: the runs
    become active together (what an API client looping over triggers approaches)."""

    def __init__(self, standalone: Standalone) -> None:
        self.settings = config.load(standalone.env)
        self.engine = db_admin.open_engine(self.settings, auto_migrate=False)

    def trigger(self, run_ids: list[str], base: dt.datetime) -> None:
        def create(session: Any) -> None:
            now = timezone.utcnow()
            for i, run_id in enumerate(run_ids):
                dag_runs.trigger(
                    session,
                    DAG_ID,
                    run_id=run_id,
                    logical_date=base + dt.timedelta(seconds=i),
                    now=now,
                )

        db_engine.run_in_transaction(self.engine, create)
        wakeup.notify(self.settings.home)

    def close(self) -> None:
        self.engine.dispose()


def _labels(n: int) -> dict[str, tuple[str, str, Target | None]]:
    what = f"W9 {n} runs of a {TASKS}-task DAG active at once"
    return {
        f"W9.{n}.wall": (f"{what}: trigger → all succeeded", "s", None),
        f"W9.{n}.rate": (f"W9 {n} runs: task instances per second", "tasks/s", None),
        f"W9.{n}.pass_median": (f"W9 {n} runs: scheduler pass time, median", "ms", None),
        f"W9.{n}.pass_p95": (f"W9 {n} runs: scheduler pass time, p95", "ms", None),
        f"W9.{n}.pass_cpu_median": (
            f"W9 {n} runs: scheduler pass CPU time, median (less moved by a busy machine)",
            "ms",
            None,
        ),
        f"W9.{n}.runs_per_pass": (f"W9 {n} runs: runs decided per pass, mean", "runs", None),
        f"W9.{n}.cpu_per_task": (
            f"W9 {n} runs: scheduler CPU per task instance decided",
            "ms",
            None,
        ),
    }


def measure_once(
    ctx: Context, standalone: Standalone, trigger: BulkTrigger, n: int, rep: int
) -> dict[str, float]:
    assert standalone.proc is not None and standalone.reader is not None
    run_ids = [f"bench_W9_{n}_{rep}_{i}" for i in range(n)]
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rep)
    what = f"tradewind W9 {n} runs, repetition {rep + 1}"
    offset = standalone.log_path.stat().st_size
    cpu_before = own_cpu_seconds(standalone.proc.pid)
    t0 = utcnow()
    trigger.trigger(run_ids, base)
    runs = standalone.reader.wait_runs(
        DAG_ID, run_ids, 60 + n, what, poll=0.1, check=standalone.check_alive
    )
    time.sleep(0.2)  # the pass that finished the last run has logged its line
    cpu = own_cpu_seconds(standalone.proc.pid) - cpu_before
    bad = {run_id: run.state for run_id, run in runs.items() if run.state != "success"}
    if bad:
        raise BenchError(
            f"{what}: {len(bad)} run(s) did not succeed: {dict(list(bad.items())[:5])}"
        )
    counts = standalone.reader.task_state_counts(DAG_ID, run_ids)
    tis = sum(counts.values())
    if tis != n * TASKS or counts.get("success") != tis:
        raise BenchError(f"{what}: task instance states {counts}, expected {n * TASKS} success")
    ends = [run.end_date for run in runs.values() if run.end_date is not None]
    wall = (max(ends) - t0).total_seconds()
    passes = pass_lines(standalone.log_path, offset)
    if not passes:
        raise BenchError(
            f"{what}: no scheduler pass line in {standalone.log_path} (logging_level DEBUG?)"
        )
    millis = [ms for ms, _cpu, _runs in passes]
    return {
        f"W9.{n}.wall": wall,
        f"W9.{n}.rate": tis / wall,
        f"W9.{n}.pass_median": statistics.median(millis),
        f"W9.{n}.pass_p95": percentile(millis, 0.95),
        f"W9.{n}.pass_cpu_median": statistics.median(cpu for _ms, cpu, _runs in passes),
        f"W9.{n}.runs_per_pass": statistics.fmean(runs for _ms, _cpu, runs in passes),
        f"W9.{n}.cpu_per_task": cpu / tis * 1000,
    }


def run_size(ctx: Context, n: int, figures: FigureSet) -> None:
    """A fresh home and standalone; one unmeasured run (starts the launcher), then
    ``ctx.repeat`` bursts of ``n`` runs."""
    labels = _labels(n)
    home = ctx.work / f"w9-{n}-home"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    DagFile("W9", DAG_ID, "stages", TASKS).write(dags, "tradewind")
    (home / "tradewind.toml").write_text('[logging]\nlogging_level = "DEBUG"\n', encoding="utf-8")
    standalone = Standalone(home, dags, ctx.db)
    trigger: BulkTrigger | None = None
    try:
        standalone.start()
        standalone.wait_ready({DAG_ID}, what=f"tradewind W9 {n}")
        trigger = BulkTrigger(standalone)
        for index in range(ctx.warmup):
            measure_once(ctx, standalone, trigger, 1, 500 + index)
        for rep in range(ctx.repeat):
            values = measure_once(ctx, standalone, trigger, n, rep)
            for key, value in values.items():
                label, unit, target = labels[key]
                figures.add(key, label, unit, value, target=target)
            ctx.log(
                f"tradewind W9 {n} runs {rep + 1}/{ctx.repeat}: "
                + ", ".join(f"{k.split('.', 2)[2]} {v:.4g}" for k, v in values.items())
            )
    except BenchError as exc:
        ctx.log(f"tradewind W9 {n} runs FAILED: {exc}")
        for key, (label, unit, target) in labels.items():
            figures.fail(key, label, unit, str(exc).splitlines()[0], target=target)
    finally:
        if trigger is not None:
            trigger.close()
        standalone.stop()


def run_active_runs(ctx: Context, figures: FigureSet) -> None:
    """W9 at every size, then the ratio the target is about."""
    chosen = sizes(ctx)
    for n in chosen:
        run_size(ctx, n, figures)
    low, high = chosen[0], chosen[-1]
    small, large = figures.get(f"W9.{low}.cpu_per_task"), figures.get(f"W9.{high}.cpu_per_task")
    label = (
        f"W9 scheduler CPU per task instance decided, {high} active runs / {low} (flat: 1)",
        "×",
    )
    if small is None or large is None or not small.ok or not large.ok:
        figures.fail("W9.cost_ratio", *label, "a size failed", target=FLAT)
    else:
        assert small.median is not None and large.median is not None
        figures.add("W9.cost_ratio", *label, large.median / small.median, target=FLAT)
    ctx.notes.append(
        f"W9: a {TASKS}-task DAG, start → 4 parallel → join → 3 parallel → end, "
        f"max_active_runs 500; {', '.join(map(str, chosen))} runs created in one transaction "
        "(then one scheduler wake-up), a fresh standalone per size, one unmeasured 1-run warm-up; "
        "core.parallelism 32 and max_active_tasks 16 per run (the defaults) bound throughput. "
        "Pass time from the scheduler's DEBUG line per pass; CPU is the scheduler process's "
        "own (user + system of standalone's main process, which also supervises the tries)."
    )
