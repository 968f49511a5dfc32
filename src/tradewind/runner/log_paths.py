"""Where logs are written.

A try of a task instance: ``dag_id=D/run_id=R/task_id=T[/map_index=M]/attempt=N.log``.
The DAG-level callbacks of a run: ``dag_id=D/run_id=R/dag_callbacks.log``.
"""

from __future__ import annotations

from pathlib import Path

CALLBACK_LOG_NAME = "dag_callbacks.log"


def _safe(part: str) -> str:
    return part.replace("/", "_")


def run_log_folder(log_folder: Path, dag_id: str, run_id: str) -> Path:
    return log_folder / f"dag_id={_safe(dag_id)}" / f"run_id={_safe(run_id)}"


def try_log_path(
    log_folder: Path, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> Path:
    path = run_log_folder(log_folder, dag_id, run_id) / f"task_id={_safe(task_id)}"
    if map_index >= 0:
        path = path / f"map_index={map_index}"
    return path / f"attempt={try_number}.log"


def callback_log_path(log_folder: Path, dag_id: str, run_id: str) -> Path:
    return run_log_folder(log_folder, dag_id, run_id) / CALLBACK_LOG_NAME
