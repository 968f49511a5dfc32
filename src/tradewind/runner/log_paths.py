"""Where the log of one try is written: ``dag_id=D/run_id=R/task_id=T[/map_index=M]/attempt=N.log``."""

from __future__ import annotations

from pathlib import Path


def _safe(part: str) -> str:
    return part.replace("/", "_")


def try_log_path(log_folder: Path, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> Path:
    path = log_folder / f"dag_id={_safe(dag_id)}" / f"run_id={_safe(run_id)}" / f"task_id={_safe(task_id)}"
    if map_index >= 0:
        path = path / f"map_index={map_index}"
    return path / f"attempt={try_number}.log"
