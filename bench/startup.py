"""Start-up and weight: ``standalone`` until healthy, its idle memory, ``import tradewind``,
the packages ``pip install`` brings, and the run's baseline (bare interpreters started).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import tradewind
from bench import procs
from bench.dag_templates import DagFile
from bench.figures import BenchError, FigureSet, Target
from bench.harness import Standalone
from bench.workloads import Context

ROOT = Path(__file__).resolve().parent.parent
IDLE_SECONDS = 6.0
IMPORT_PROBE = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"


def run_baseline(ctx: Context, figures: FigureSet, python: str = sys.executable) -> None:
    """``python -c pass`` started ``n`` times one after another, per repetition."""
    n = ctx.sizes.baseline
    for rep in range(max(ctx.repeat, 3)):
        started = time.perf_counter()
        for _ in range(n):
            subprocess.run([python, "-c", "pass"], check=True)
        total = time.perf_counter() - started
        figures.add(
            "baseline.total", f"Baseline: {n} × `python -c pass`, one after another", "s", total
        )
        figures.add("baseline.each", "Baseline: one `python -c pass`", "ms", total / n * 1000)
        ctx.log(f"baseline {rep + 1}: {n} interpreters in {total:.2f} s")
    for rep in range(max(ctx.repeat, 3)):
        each = warm_fork_seconds(n * 5)
        figures.add(
            "baseline.fork",
            "Floor: fork of this warm process + child exit + wait",
            "ms",
            each * 1000,
        )
        ctx.log(f"floor {rep + 1}: a warm fork + exit + wait takes {each * 1000:.2f} ms")


def warm_fork_seconds(n: int) -> float:
    """Mean time of ``os.fork`` + ``os._exit(0)`` in the child + ``waitpid``, ``n`` times from
    this process (which has Tradewind, SQLAlchemy and the bench imported: a warm parent)."""
    started = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    return (time.perf_counter() - started) / n


def run_standalone_startup(ctx: Context, figures: FigureSet) -> None:
    """Launch → ready, then resident memory of the whole process tree once idle."""
    labels = {
        "startup.ready": (
            "Start-up: `tradewind standalone` launch → healthy",
            "s",
            Target("<=", 1),
        ),
        "startup.rss": (
            f"Idle memory: RSS summed over all standalone processes ({IDLE_SECONDS:g} s idle)",
            "MiB",
            Target("<=", 150),
        ),
        "startup.pss": (
            "Idle memory: PSS (shared pages split) over all standalone processes",
            "MiB",
            None,
        ),
        "startup.processes": ("Idle standalone: number of processes", "processes", None),
        "startup.idle_cpu": (
            "Idle standalone: CPU used while idle (all processes)",
            "% of a core",
            None,
        ),
    }
    idle = 2.0 if ctx.quick else IDLE_SECONDS
    try:
        for rep in range(ctx.repeat):
            home = ctx.work / "startup-home"
            shutil.rmtree(home, ignore_errors=True)
            dags = home / "dags"
            DagFile("startup", "bench_w1_chain", "chain", ctx.sizes.w1_tasks).write(
                dags, "tradewind"
            )
            standalone = Standalone(home, dags, ctx.db)
            try:
                standalone.start()
                ready = standalone.wait_ready({"bench_w1_chain"}, what="start-up")
                cpu_before = standalone.cpu_seconds()
                time.sleep(idle)
                cpu_used = standalone.cpu_seconds() - cpu_before
                memory = standalone.memory()
            finally:
                standalone.stop()
            figures.add(
                "startup.ready",
                *labels["startup.ready"][:2],
                ready.seconds,
                target=labels["startup.ready"][2],
                notes=f"ready = {ready.method}; fresh home, 1 DAG file, migration included",
            )
            figures.add(
                "startup.rss",
                *labels["startup.rss"][:2],
                memory.rss_mib,
                target=labels["startup.rss"][2],
            )
            figures.add("startup.pss", *labels["startup.pss"][:2], memory.pss_mib)
            figures.add("startup.processes", *labels["startup.processes"][:2], memory.processes)
            figures.add("startup.idle_cpu", *labels["startup.idle_cpu"][:2], cpu_used / idle * 100)
            ctx.log(
                f"start-up {rep + 1}/{ctx.repeat}: ready {ready.seconds:.2f} s ({ready.method}), "
                f"{memory.processes} processes, RSS {memory.rss_mib:.0f} MiB, PSS "
                f"{memory.pss_mib:.0f} MiB, idle CPU {cpu_used / idle * 100:.1f}%"
            )
    except BenchError as exc:
        ctx.log(f"start-up FAILED: {exc}")
        for key, (label, unit, target) in labels.items():
            figures.fail(key, label, unit, str(exc).splitlines()[0], target=target)


def byte_compile(ctx: Context) -> None:
    """Every process measured runs with its modules byte-compiled, as an installed package has
    them (pip compiles what it installs; Airflow's and the peers' venvs are so). Tradewind runs
    from its source tree here, so its modules are compiled now, and an inherited
    ``PYTHONDONTWRITEBYTECODE`` is dropped: with it, every new Tradewind process compiled its
    modules again (a tenth to a third of a short command's time)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    package = Path(tradewind.__file__).parent
    done = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(package)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise BenchError(f"compileall {package} failed: {done.stdout.strip()[-300:]}")
    ctx.notes.append(
        "Every process runs with its modules byte-compiled, as installed packages have them "
        "(Tradewind's source tree is compiled first; PYTHONDONTWRITEBYTECODE is not passed on)."
    )


def import_seconds(python: str, statement: str) -> float:
    done = subprocess.run(
        [python, "-c", IMPORT_PROBE.format(statement=statement)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise BenchError(f"{statement} failed: {done.stderr.strip()[-300:]}")
    return float(done.stdout.strip().splitlines()[-1])


def run_import(
    ctx: Context,
    figures: FigureSet,
    *,
    python: str = sys.executable,
    statement: str = "from tradewind import DAG, task",
    key: str = "startup.import",
) -> None:
    """What a DAG file's first line costs (both packages load their names lazily, so a bare
    ``import`` of either measures nothing)."""
    label = "The authoring API: `from tradewind import DAG, task` (in a new interpreter)"
    try:
        for _ in range(max(ctx.repeat, 5)):
            figures.add(
                key,
                label,
                "ms",
                import_seconds(python, statement) * 1000,
                target=Target("<", 150) if "tradewind" in statement else None,
            )
    except (BenchError, subprocess.TimeoutExpired) as exc:
        figures.fail(key, label, "ms", str(exc))


def count_installed(ctx: Context, figures: FigureSet) -> None:
    """``pip install <this checkout>`` into a new, empty venv; count what it installed."""
    label = "Packages installed by `pip install tradewind` into an empty venv"
    venv = ctx.work / "pip-count-venv"
    shutil.rmtree(venv, ignore_errors=True)
    report = ctx.work / "pip-report.json"
    try:
        made = procs.run_timed(
            [sys.executable, "-m", "venv", str(venv)], timeout=120, what="python -m venv"
        )
        if made.returncode != 0:
            raise BenchError(f"python -m venv failed: {made.stderr.strip()}")
        done = procs.run_timed(
            [str(venv / "bin" / "pip"), "install", "--quiet", "--report", str(report), str(ROOT)],
            timeout=900,
            what="pip install tradewind",
        )
        if done.returncode != 0:
            raise BenchError(f"pip install failed: {done.stderr.strip()[-500:]}")
        installed = sorted(
            item["metadata"]["name"] for item in json.loads(report.read_text())["install"]
        )
        figures.add(
            "startup.packages",
            label,
            "packages",
            len(installed),
            target=Target("<", 40),
            notes=f"includes tradewind itself; install took {done.seconds:.0f} s",
        )
        ctx.notes.append(
            f"`pip install tradewind` installed {len(installed)}: {', '.join(installed)}"
        )
        ctx.log(f"packages: {len(installed)}")
    except BenchError as exc:
        figures.fail("startup.packages", label, "packages", str(exc), target=Target("<", 40))
    finally:
        shutil.rmtree(venv, ignore_errors=True)
