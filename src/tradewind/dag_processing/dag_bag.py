"""Loading DAGs from a folder in this process (``dags test``, ``tasks test``, ``dags list``)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.importer import ImportProblem, import_dag_file
from tradewind.sdk.dag import DAG


@dataclasses.dataclass
class DagBag:
    """The DAGs found in a folder, and the problems of the files that failed."""

    folder: Path
    dags: dict[str, DAG] = dataclasses.field(default_factory=dict)
    problems: list[ImportProblem] = dataclasses.field(default_factory=list)
    files_read: int = 0

    def add_file(self, path: Path) -> None:
        result = import_dag_file(path)
        self.files_read += 1
        self.problems.extend(result.problems)
        for dag in result.dags:
            existing = self.dags.get(dag.dag_id)
            if existing is not None and existing.fileloc != dag.fileloc:
                self.problems.append(
                    ImportProblem(
                        result.filename,
                        f"DAG id {dag.dag_id!r} is already defined in {existing.fileloc}",
                        "",
                        dag.definition_line,
                    )
                )
                continue
            self.dags[dag.dag_id] = dag


def _on_path(folder: Path) -> None:
    """DAG files may import helper modules that sit beside them, as in Airflow."""
    entry = str(folder if folder.is_dir() else folder.parent)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def load_folder(folder: Path, *, safe_mode: bool = True) -> DagBag:
    """Import every DAG file of ``folder``."""
    bag = DagBag(folder)
    _on_path(folder)
    for path in find_dag_files(folder, safe_mode=safe_mode):
        bag.add_file(path)
    return bag


def load_dag(folder: Path, dag_id: str, *, safe_mode: bool = True) -> tuple[DAG | None, DagBag]:
    """Find one DAG, importing the files that mention its id first and others only if needed."""
    bag = DagBag(folder)
    _on_path(folder)
    files = find_dag_files(folder, safe_mode=safe_mode)
    needle = dag_id.encode()
    mentioning = [path for path in files if _mentions(path, needle)]
    for path in mentioning + [path for path in files if path not in mentioning]:
        bag.add_file(path)
        if dag_id in bag.dags:
            return bag.dags[dag_id], bag
    return None, bag


def _mentions(path: Path, needle: bytes) -> bool:
    try:
        return needle in path.read_bytes()
    except OSError:
        return False
