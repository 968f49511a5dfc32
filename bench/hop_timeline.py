"""``python -m bench.hop_timeline [RUNS]``: where a W1 hop's milliseconds go.

Runs the W1 chain (20 no-op tasks) ``RUNS`` times (default 8, the first unmeasured) on a
scheduler in this process, over the local executor and its warm launchers, on a fresh SQLite
home, and splits each hop (upstream end → downstream start, as W1 measures it) at the points
the scheduler sees: the upstream's outcome arriving, the pass that records it and queues the
downstream, its commit, the launch. Prints the median of each part (and the pass's CPU).

The parts are measured in the scheduler; what happens inside the task processes (the end of
one try, the fork and start of the next) is the remainder on either side.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import dag_templates
from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.executors import registry as executors
from tradewind.executors.base import Event, TaskFinished
from tradewind.runner.workload import TaskWorkload
from tradewind.scheduler.job import SchedulerJob
from tradewind.sdk import timezone
from tradewind.services import dag_runs, db_admin
from tradewind.services.task_requests import TaskRequestHandler

DAG_ID = "bench_hop_chain"
TASKS = 20
PARTS = (
    ("upstream end → its outcome received", "end", "received"),
    ("received → pass starts", "received", "pass_start"),
    ("pass (outcome applied, downstream queued)", "pass_start", "pass_end"),
    ("commit", "pass_end", "committed"),
    ("committed → launch", "committed", "launch"),
    ("launch → downstream start", "launch", "start"),
)


class Marks:
    """Wall-clock instants of what the scheduler did, by kind (and task instance)."""

    def __init__(self) -> None:
        self.by_ti: dict[tuple[str, int], float] = {}
        self.passes: list[tuple[float, float, float]] = []
        self.pass_cpu: list[float] = []

    def after(self, index: int, at: float) -> tuple[float, float, float] | None:
        """The first pass whose start is at or after ``at`` (by its start)."""
        return next((p for p in self.passes if p[index] >= at), None)


def _prepare_home(home: Path) -> dict[str, str]:
    dags = home / "dags"
    dag_templates.DagFile("hop timeline", DAG_ID, "chain", TASKS).write(dags, "tradewind")
    env = dict(os.environ, TRADEWIND_HOME=str(home), TRADEWIND__CORE__DAGS_FOLDER=str(dags))
    tradewind = str(Path(sys.executable).with_name("tradewind"))
    for args in (["db", "migrate"], ["dags", "reserialize"], ["dags", "unpause", DAG_ID]):
        subprocess.run([tradewind, *args], check=True, capture_output=True, env=env)
    return env


def _instrument(job: SchedulerJob, marks: Marks) -> None:
    executor, passes = job.executor, job.passes
    wait, run, act, launch = executor.wait, passes.run, passes.act, executor.launch

    def timed_wait(timeout: float | None, extra: list[Any]) -> tuple[list[Event], list[Any]]:
        events, ready = wait(timeout, extra)
        now = time.time()
        for event in events:
            if isinstance(event, TaskFinished):
                marks.by_ti[("received", event.ti_id)] = now
        return events, ready

    def timed_run(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.time(), time.thread_time()
        result = run(*args, **kwargs)
        marks.pass_cpu.append(time.thread_time() - cpu)
        marks.passes.append((started, time.time(), 0.0))
        return result

    def timed_act(result: Any) -> bool:
        first, ended, _ = marks.passes[-1]
        marks.passes[-1] = (first, ended, time.time())
        return act(result)

    def timed_launch(workload: TaskWorkload) -> None:
        marks.by_ti[("launch", workload.ti_id)] = time.time()
        launch(workload)

    executor.wait = timed_wait  # type: ignore[method-assign,assignment]
    passes.run = timed_run  # type: ignore[method-assign]
    passes.act = timed_act  # type: ignore[method-assign]
    executor.launch = timed_launch  # type: ignore[method-assign]


def _epoch(value: Any) -> float:
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return timezone.coerce_utc(moment).timestamp()


def measure(runs: int) -> dict[str, Any]:
    """Run the chain ``runs`` times; the medians of each part of a hop, in milliseconds."""
    home = Path(tempfile.mkdtemp(prefix="tw-hop-"))
    os.environ.update(_prepare_home(home))
    settings = config.load()
    engine = db_admin.open_engine(settings)
    job = SchedulerJob(
        settings, engine, executors.create_executor(settings), request_handler=TaskRequestHandler
    )
    marks = Marks()
    _instrument(job, marks)
    triggered: list[str] = []

    def trigger() -> None:
        run_id = f"hop_{len(triggered)}"
        db_engine.run_in_transaction(
            engine, lambda s: dag_runs.trigger(s, DAG_ID, run_id=run_id, now=timezone.utcnow())
        )
        triggered.append(run_id)
        job._runs_changed()

    def until() -> bool:
        if not triggered:
            trigger()
            return False
        with engine.connect() as conn:
            state = conn.execute(
                text("SELECT state FROM dag_run WHERE run_id = :r"), {"r": triggered[-1]}
            ).scalar()
        if state not in ("success", "failed"):
            return False
        if len(triggered) >= runs:
            return True
        trigger()
        return False

    job.run(until=until)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, run_id, task_id, start_date, end_date FROM task_instance")
        ).all()
    engine.dispose()
    return _split(rows, marks, first_measured=triggered[1:])


def _split(rows: Sequence[Any], marks: Marks, first_measured: list[str]) -> dict[str, Any]:
    parts: dict[str, list[float]] = {name: [] for name, _a, _b in PARTS}
    hops: list[float] = []
    for run_id in first_measured:
        chain = sorted((r for r in rows if r.run_id == run_id), key=lambda r: r.task_id)
        for upstream, downstream in zip(chain, chain[1:], strict=False):
            at = {"end": _epoch(upstream.end_date), "start": _epoch(downstream.start_date)}
            received = marks.by_ti.get(("received", upstream.id))
            launched = marks.by_ti.get(("launch", downstream.id))
            the_pass = None if received is None else marks.after(0, received)
            if received is None or launched is None or the_pass is None:
                continue
            at.update(
                received=received,
                pass_start=the_pass[0],
                pass_end=the_pass[1],
                committed=the_pass[2],
                launch=launched,
            )
            for name, begin, end in PARTS:
                parts[name].append(at[end] - at[begin])
            hops.append(at["start"] - at["end"])
    return {
        "hops": len(hops),
        "hop_ms": statistics.median(hops) * 1000 if hops else None,
        "parts_ms": {k: statistics.median(v) * 1000 for k, v in parts.items() if v},
        "pass_cpu_ms": statistics.median(marks.pass_cpu) * 1000 if marks.pass_cpu else None,
    }


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    found = measure(max(2, runs))
    print(f"{found['hops']} hops of a {TASKS}-task chain; medians:")
    for name, value in found["parts_ms"].items():
        print(f"  {name:45s} {value:7.2f} ms")
    print(f"  {'hop (upstream end → downstream start)':45s} {found['hop_ms']:7.2f} ms")
    print(f"  {'scheduler CPU per pass':45s} {found['pass_cpu_ms']:7.2f} ms")


if __name__ == "__main__":
    main()
