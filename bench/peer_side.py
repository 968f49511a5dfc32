"""W1-W3 on Prefect 3 and Dagster, for the peers' columns (``python -m bench --peers``).

Each system lives in its own venv under ``bench/.peers/<system>`` (git-ignored), installed on
first use, never in Tradewind's. Each (system, variant, workload) is one subprocess: the peer's
python runs its script in ``bench/peers/``, which does the warm-up and the repetitions and
prints one JSON document: per run, the instant just before the run was started, the run's and
every task's start and end as the system recorded them. The figures follow from those rows
through the same ``RunWorkload.analyze`` as Tradewind's and Airflow's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import procs
from bench.figures import BenchError, FigureSet
from bench.harness import clean_environ
from bench.runs import RunRow, TaskRow, parse_time
from bench.workloads import Context, RunWorkload, fail, record

ROOT = Path(__file__).resolve().parent / ".peers"
SCRIPTS = Path(__file__).resolve().parent / "peers"
INSTALL_TIMEOUT = 1800.0
#: Seconds one run of each workload may take on the slowest variant (Dagster's multiprocess
#: executor starts a fresh interpreter per step), and the start-up allowance of a subprocess.
RUN_BUDGET = {"W1": 180.0, "W2": 900.0, "W3": 300.0}
STARTUP_BUDGET = 180.0
#: What each system calls a run or task that ended well.
SUCCEEDED = frozenset({"success", "completed"})
#: Environment prefixes a user's own settings could leak into the peers through.
FOREIGN_SETTINGS = ("PREFECT_", "DAGSTER_")


@dataclasses.dataclass(frozen=True)
class Peer:
    """An orchestrator to compare with: what to install and which script runs W1-W3 on it."""

    system: str
    name: str
    version: str
    requirement: str
    script: str
    variant_option: str
    #: Where its figures' timestamps come from.
    timestamps: str

    @property
    def venv(self) -> Path:
        return ROOT / self.system / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


@dataclasses.dataclass(frozen=True)
class PeerVariant:
    """One way of running a peer (a task runner, an executor), with its isolation model."""

    peer: Peer
    variant: str
    title: str
    isolation: str

    @property
    def key(self) -> str:
        return f"{self.peer.system}-{self.variant}"


PREFECT = Peer(
    system="prefect",
    name="Prefect",
    version="3.9.1",
    requirement="prefect==3.9.1",
    script="prefect_workloads.py",
    variant_option="--runner",
    timestamps=(
        "Prefect: the flow is called from a script (`flow(return_state=True)`) against a local "
        "`prefect server start` (SQLite under a fresh PREFECT_HOME); trigger is the instant before "
        "the call, done the flow run's end_time, task start and end the task runs' start_time and "
        "end_time, all read back from the server's API (Prefect records them from the runs' "
        "state changes). Tasks are submitted to the flow's task runner (`.submit(wait_for=...)`); "
        "W3's task runs `bash -c 'echo hi'` through subprocess, as BashOperator does."
    ),
)
DAGSTER = Peer(
    system="dagster",
    name="Dagster",
    version="1.13.29",
    requirement="dagster==1.13.29",
    script="dagster_workloads.py",
    variant_option="--executor",
    timestamps=(
        "Dagster: the job is launched with `dagster.execute_job(reconstructable(...))` on a "
        "fresh DAGSTER_HOME instance (default SQLite storage, no daemon or webserver); trigger is "
        "the instant before the call, done the run record's end_time, task start and end each "
        "step's start_time and end_time from `get_run_step_stats`, all from the events Dagster "
        "stores (RUN_START/RUN_SUCCESS, STEP_START/STEP_SUCCESS). Ops are chained through "
        "Nothing inputs; W3's op runs `bash -c 'echo hi'` through subprocess."
    ),
)

VARIANTS = (
    PeerVariant(
        PREFECT,
        "threads",
        "Prefect threads (default)",
        "ThreadPoolTaskRunner, Prefect's default: every task on a thread of the flow's own "
        "process (threads unbounded by default); no isolation between tasks.",
    ),
    PeerVariant(
        PREFECT,
        "processes",
        "Prefect processes",
        "ProcessPoolTaskRunner: tasks run in a pool of spawned worker processes (as many as "
        "CPUs, 2 here), started with each flow run, each taking one task after another; "
        "tasks are isolated from the flow, not from each other.",
    ),
    PeerVariant(
        DAGSTER,
        "in_process",
        "Dagster in-process",
        "in_process_executor: every step one after another in the run's own process; no "
        "isolation and no parallelism.",
    ),
    PeerVariant(
        DAGSTER,
        "multiprocess",
        "Dagster multiprocess (default)",
        "multiprocess_executor, Dagster's default: each step its own process, started fresh "
        "(spawn: a new interpreter imports Dagster and the job), at most as many at once as "
        "CPUs (2 here).",
    ),
)

TRADEWIND_ISOLATION = (
    "LocalExecutor: each try its own process, forked from a warm launcher that has the DAG "
    "version loaded (16 active tasks per DAG)."
)
AIRFLOW_ISOLATION = (
    "LocalExecutor: each task instance its own process, forked by the task supervisor in one "
    "of the executor's worker processes (parallelism 32, 16 active tasks per DAG)."
)


@dataclasses.dataclass
class PeerResult:
    """What one variant measured: its figures, facts worth printing, per-repetition delays."""

    variant: PeerVariant
    figures: FigureSet
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)
    raw: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.variant.key,
            "system": self.variant.peer.name,
            "variant": self.variant.variant,
            "title": self.variant.title,
            "isolation": self.variant.isolation,
            "facts": self.facts,
            "figures": [figure.to_json() for figure in self.figures],
            "raw": self.raw,
        }


def ensure_installed(peer: Peer, log: Callable[[str], None]) -> Path:
    """The peer's venv, created and installed on first use; its python."""
    stamp = peer.venv / ".bench-installed"
    if stamp.exists() and stamp.read_text().strip() == peer.requirement and peer.python.exists():
        return peer.python
    log(f"installing {peer.requirement} into {peer.venv} (takes a minute or two)")
    shutil.rmtree(peer.venv, ignore_errors=True)
    made = procs.run_timed(
        [sys.executable, "-m", "venv", str(peer.venv)],
        timeout=300,
        what=f"python -m venv for {peer.name}",
    )
    if made.returncode != 0:
        raise BenchError(f"could not create {peer.venv}: {made.stderr.strip()}")
    done = procs.run_timed(
        [str(peer.python), "-m", "pip", "install", "--quiet", peer.requirement],
        timeout=INSTALL_TIMEOUT,
        what=f"pip install {peer.requirement}",
    )
    if done.returncode != 0:
        raise BenchError(f"pip install {peer.requirement} failed: {done.stderr.strip()[-800:]}")
    stamp.write_text(peer.requirement + "\n")
    return peer.python


def peer_environ() -> dict[str, str]:
    """This process's environment without Tradewind's, Airflow's or the peers' own settings,
    and without anything that would put Tradewind's venv on the peer's path."""
    env = clean_environ()
    for name in list(env):
        if name.startswith(FOREIGN_SETTINGS) or name in {"PYTHONPATH", "VIRTUAL_ENV"}:
            del env[name]
    return env


def run_script(
    variant: PeerVariant, workload: RunWorkload, ctx: Context, home: Path, log_path: Path
) -> str:
    """Run the peer's script for one workload in its own session; its stdout.

    The session is stopped afterwards whatever happened, so a server the script started
    (Prefect's) cannot outlive it."""
    peer = variant.peer
    argv = [
        str(peer.python),
        str(SCRIPTS / peer.script),
        "--workload",
        workload.key,
        "--n",
        str(workload.dag.n),
        peer.variant_option,
        variant.variant,
        "--repeat",
        str(ctx.repeat),
        "--warmup",
        str(ctx.warmup),
        "--home",
        str(home),
    ]
    timeout = STARTUP_BUDGET + RUN_BUDGET[workload.key] * (ctx.repeat + ctx.warmup)
    out_path = home.parent / f"{home.name}.stdout"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as out, log_path.open("wb") as err:
        proc = subprocess.Popen(
            argv,
            env=peer_environ(),
            cwd=home.parent,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(
                f"{variant.key} {workload.key}: no result within {timeout:g} s; see {log_path}"
            ) from None
        finally:
            procs.stop_session(proc, grace=30.0)
    if proc.returncode != 0:
        raise BenchError(
            f"{variant.key} {workload.key}: exit {proc.returncode}; last lines of {log_path}:\n"
            f"{procs.tail(log_path)}"
        )
    return out_path.read_text(encoding="utf-8")


def parse_document(stdout: str) -> dict[str, Any]:
    """The JSON document a peer script prints as its last line (libraries may print before)."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                document = json.loads(line)
            except ValueError as exc:
                raise BenchError(f"peer output is not JSON: {exc}: {line[:200]}") from None
            if not isinstance(document, dict) or not isinstance(document.get("runs"), list):
                raise BenchError(f"peer output has no runs: {line[:200]}")
            return document
    raise BenchError(f"peer printed no JSON document: {stdout.strip()[-300:]!r}")


def expected_tasks(workload: RunWorkload) -> int:
    """Task instances one run of the workload has (W2: the fan-out plus start and end)."""
    return workload.dag.n + 2 if workload.key == "W2" else workload.dag.n


def _state(value: Any) -> str:
    text = str(value).lower()
    return "success" if text in SUCCEEDED else text


def analyze_run(
    run: dict[str, Any], workload: RunWorkload
) -> tuple[dict[str, float], dict[str, Any]]:
    """One run of a peer's document through the workload's own analysis."""
    t0 = parse_time(run["t0"])
    if t0 is None:
        raise BenchError("peer run without its trigger instant")
    row = RunRow(
        run["run"]["run_id"],
        _state(run["run"]["state"]),
        None,
        parse_time(run["run"]["start"]),
        parse_time(run["run"]["end"]),
    )
    tasks = [
        TaskRow(
            item["task_id"],
            _state(item["state"]),
            parse_time(item["start"]),
            parse_time(item["end"]),
        )
        for item in run["tasks"]
    ]
    if row.state != "success":
        raise BenchError(f"run {row.run_id} ended {run['run']['state']}")
    failed = sorted(task.task_id for task in tasks if task.state != "success")
    if failed:
        raise BenchError(f"run {row.run_id}: tasks not succeeded: {failed[:5]}")
    if len(tasks) != expected_tasks(workload):
        raise BenchError(
            f"run {row.run_id}: {len(tasks)} task records, expected {expected_tasks(workload)}"
        )
    return workload.analyze(t0, {row.run_id: row}, {row.run_id: tasks})


def record_document(
    document: dict[str, Any], workload: RunWorkload, result: PeerResult
) -> list[dict[str, float]]:
    """Figures of every repetition into ``result`` (the first warm-up of W1 as W1.cold);
    the values of each repetition, for the log."""
    measured = []
    warmups = 0
    for run in document["runs"]:
        values, raw = analyze_run(run, workload)
        if run.get("warmup"):
            warmups += 1
            cold = f"{workload.key}.cold"
            if warmups == 1 and cold in workload.figures:
                record(result.figures, workload, {cold: values[f"{workload.key}.wall"]})
            continue
        record(result.figures, workload, values)
        result.raw.setdefault(workload.key, []).append(raw)
        measured.append(values)
    if not measured:
        raise BenchError("peer document has no measured repetition")
    return measured


def run_variant(ctx: Context, variant: PeerVariant, workloads: list[RunWorkload]) -> PeerResult:
    result = PeerResult(variant, FigureSet())
    peer = variant.peer
    result.facts["version"] = peer.version
    try:
        ensure_installed(peer, ctx.log)
    except BenchError as exc:
        ctx.log(f"{variant.key} FAILED: {exc}")
        result.facts["error"] = str(exc).splitlines()[0]
        for workload in workloads:
            fail(result.figures, workload, "not installed")
        return result
    for workload in workloads:
        home = ctx.work / "peers" / f"{variant.key}-{workload.key.lower()}"
        shutil.rmtree(home, ignore_errors=True)
        log_path = ROOT / peer.system / "logs" / f"{variant.variant}-{workload.key}.log"
        try:
            document = parse_document(run_script(variant, workload, ctx, home, log_path))
            result.facts["version"] = document.get("version", peer.version)
            if "server_ready_s" in document:
                result.facts.setdefault("server_ready_s", {})[workload.key] = document[
                    "server_ready_s"
                ]
            for rep, values in enumerate(record_document(document, workload, result), 1):
                ctx.log(
                    f"{variant.key} {workload.key} {rep}/{ctx.repeat}: "
                    + ", ".join(f"{k} {v:.4g}" for k, v in values.items())
                )
        except BenchError as exc:
            ctx.log(f"{variant.key} {workload.key} FAILED: {exc}")
            fail(result.figures, workload, str(exc).splitlines()[0])
            result.facts.setdefault("logs", {})[workload.key] = str(log_path)
    return result


def run_peers(
    ctx: Context, workloads: list[RunWorkload], variant_keys: list[str] | None = None
) -> list[PeerResult]:
    """The chosen variants (all by default) on the selected workloads among W1-W3."""
    chosen = [workload for workload in workloads if workload.key in RUN_BUDGET]
    if not chosen:
        ctx.log("peers: none of W1-W3 selected, nothing to run")
        return []
    started = dt.datetime.now(dt.UTC)
    variants = [v for v in VARIANTS if variant_keys is None or v.key in variant_keys]
    results = [run_variant(ctx, variant, chosen) for variant in variants]
    ctx.log(f"peers done in {(dt.datetime.now(dt.UTC) - started).total_seconds():.0f} s")
    return results
