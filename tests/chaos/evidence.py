"""What a chaos run leaves to judge it by: metastore rows, the tasks' records, the kills, the
processes and their logs, gathered into one JSON-able dict (``evidence.json``)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tests.chaos import workload
from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.db.models import Dag, DagRun, TaskInstance, TaskInstanceHistory

if TYPE_CHECKING:
    from tests.chaos.driver import ChaosRun

FINAL_RUN_STATES = ("success", "failed")
FINAL_TI_STATES = ("success", "failed", "skipped", "upstream_failed", "removed")


class Metastore:
    """Reads of the run's metastore (SQLite or PostgreSQL) through SQLAlchemy."""

    def __init__(self, env: dict[str, str]) -> None:
        self.engine = db_engine.engine_from_settings(config.load(environ=env))

    def dispose(self) -> None:
        self.engine.dispose()

    def dag_ids(self) -> set[str]:
        try:
            with Session(self.engine) as session:
                return set(session.scalars(select(Dag.dag_id)))
        except SQLAlchemyError:
            return set()

    def settled(self, expected_run_ids: Collection[str]) -> bool:
        """Every run finished (the triggered and the scheduled ones all there), no task
        instance left unfinished."""
        try:
            with Session(self.engine) as session:
                runs = session.execute(
                    select(DagRun.dag_id, DagRun.run_id, DagRun.state, DagRun.run_type)
                ).all()
                unfinished = session.scalar(
                    select(func.count())
                    .select_from(TaskInstance)
                    .where(
                        TaskInstance.state.is_(None) | TaskInstance.state.not_in(FINAL_TI_STATES)
                    )
                )
        except SQLAlchemyError:
            return False
        if unfinished or any(run.state not in FINAL_RUN_STATES for run in runs):
            return False
        if not set(expected_run_ids) <= {run.run_id for run in runs}:
            return False
        for spec in workload.DAGS:
            made = sum(
                1 for run in runs if run.dag_id == spec.dag_id and run.run_type == "scheduled"
            )
            if made < spec.scheduled_runs:
                return False
        return True

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        with Session(self.engine) as session:
            runs = [
                {
                    "dag_id": r.dag_id,
                    "run_id": r.run_id,
                    "state": r.state,
                    "run_type": r.run_type,
                    "version": r.dag_version_id,
                }
                for r in session.scalars(select(DagRun).order_by(DagRun.id))
            ]
            tis = [
                {
                    "dag_id": t.dag_id,
                    "run_id": t.run_id,
                    "task_id": t.task_id,
                    "map_index": t.map_index,
                    "try_number": t.try_number,
                    "max_tries": t.max_tries,
                    "state": t.state,
                }
                for t in session.scalars(select(TaskInstance).order_by(TaskInstance.id))
            ]
            history = [
                {
                    "dag_id": h.dag_id,
                    "run_id": h.run_id,
                    "task_id": h.task_id,
                    "map_index": h.map_index,
                    "try_number": h.try_number,
                    "state": h.state,
                }
                for h in session.scalars(
                    select(TaskInstanceHistory).order_by(TaskInstanceHistory.id)
                )
            ]
        return {"runs": runs, "tis": tis, "history": history}


def read_records(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every line the tasks wrote, and the lines that are not whole JSON objects."""
    records: list[dict[str, Any]] = []
    torn: list[str] = []
    for path in sorted(folder.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                torn.append(f"{path}: {line[:200]!r}")
                continue
            records.append(value)
    return records, torn


def log_findings(path: Path) -> dict[str, Any]:
    """Tracebacks and errors in one process's output, with the first traceback."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {"tracebacks": 0, "errors": 0, "first_traceback": None}
    starts = [
        n for n, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")
    ]
    first = None
    if starts:
        begin = starts[0]
        end = next(
            (
                n + 1
                for n in range(begin + 1, len(lines))
                if lines[n] and not lines[n].startswith(" ")
            ),
            len(lines),
        )
        first = "\n".join(lines[max(0, begin - 2) : end])
    errors = sum(1 for line in lines if " ERROR " in line)
    return {"tracebacks": len(starts), "errors": errors, "first_traceback": first}


def collect(chaos: ChaosRun) -> dict[str, Any]:
    options = chaos.options
    records, torn = read_records(chaos.records)
    processes = []
    for started in chaos.deployment.started:
        entry = started.to_json()
        entry.update(log_findings(started.log_path))
        processes.append(entry)
    kinds_seen: dict[str, int] = {}
    for info in chaos.seen.values():
        kinds_seen[info["kind"]] = kinds_seen.get(info["kind"], 0) + 1
    specs = {
        spec.dag_id: {
            "run_state": spec.run_state,
            "task_states": spec.task_states,
            "map_counts": spec.map_counts,
            "scheduled_runs": spec.scheduled_runs,
            "reschedule_sensors": sorted(spec.reschedule_sensors),
            "fails_until": spec.fails_until,
        }
        for spec in workload.DAGS
    }
    return {
        "backend": options.backend,
        "seed": options.seed,
        "workdir": str(options.workdir),
        "options": {
            "duration": options.duration,
            "kill_interval": options.kill_interval,
            "burst": options.burst,
            "trigger_interval": options.trigger_interval,
            "settle_timeout": options.settle_timeout,
        },
        "t0": chaos.t0,
        "phases": chaos.phases,
        "specs": specs,
        **chaos.metastore.rows(),
        "records": records,
        "torn_records": torn,
        "kills": chaos.kills,
        "skipped_kills": dict(chaos.skipped_kills),
        "triggers": chaos.triggers,
        "processes": processes,
        "anomalies": chaos.anomalies,
        "leftovers": chaos.leftovers,
        "orphan_exits": chaos.deployment.orphan_exits,
        "observed": {"max_concurrent_tries": chaos.max_tries, "processes_seen": kinds_seen},
    }
