"""Loading a DAG into this process, to run it (``dags test``, ``tasks test``) or look at it
(``tasks list``, ``dags show``).

Only the file that defines the DAG is imported here. The file is found the way the DAG
processor finds DAGs: by importing files in child processes (those that mention the id
first), so a file that hangs, exits or crashes the interpreter (``os.abort()``, a segfault)
only yields a problem, whether it is another file of the folder or the defining file itself.
The defining file is then imported twice, once in a child and once here: a few tens of
milliseconds for the safety of the command.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.file_parsing import parse_files
from tradewind.dag_processing.importer import ImportProblem, import_dag_file
from tradewind.sdk.dag import DAG
from tradewind.sdk.definition_context import DagFileDefaults

#: The DAG processor's defaults (``[dag_processor] file_timeout``, ``parsing_processes``).
DEFAULT_TIMEOUT = 30.0
DEFAULT_PARALLELISM = 2


@dataclasses.dataclass
class DagBag:
    """The DAGs found in a folder, and the problems of the files that failed."""

    folder: Path
    dags: dict[str, DAG] = dataclasses.field(default_factory=dict)
    problems: list[ImportProblem] = dataclasses.field(default_factory=list)
    files_read: int = 0
    #: What the DAGs take for what their file leaves unset.
    defaults: DagFileDefaults = dataclasses.field(default_factory=DagFileDefaults)

    def add_file(self, path: Path) -> None:
        result = import_dag_file(path, self.defaults)
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
    entry = str(_top(folder))
    if entry not in sys.path:
        sys.path.insert(0, entry)


def load_folder(
    folder: Path, *, safe_mode: bool = True, defaults: DagFileDefaults | None = None
) -> DagBag:
    """Import every DAG file of ``folder`` in this process (for tests of trusted folders:
    a file that crashes the interpreter takes this process with it)."""
    bag = DagBag(folder, defaults=defaults or DagFileDefaults())
    _on_path(folder)
    for path in find_dag_files(folder, safe_mode=safe_mode):
        bag.add_file(path)
    return bag


def find_dag_file(
    folder: Path,
    dag_id: str,
    *,
    safe_mode: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    parallelism: int = DEFAULT_PARALLELISM,
    defaults: DagFileDefaults | None = None,
) -> tuple[Path | None, list[ImportProblem], int]:
    """The file that defines ``dag_id`` (the first in path order, as for the DAG processor),
    the problems of the files imported to find it, and how many were imported.

    Files are imported in child processes: first those that mention the id, then, only when
    none of them defines it (an id built at import), the others.
    """
    files = find_dag_files(folder, safe_mode=safe_mode)
    needle = dag_id.encode()
    mentioning = [path for path in files if _mentions(path, needle)]
    problems: list[ImportProblem] = []
    imported = 0
    for group in (mentioning, [path for path in files if path not in mentioning]):
        if not group:
            continue
        results = sorted(
            parse_files(
                group,
                timeout=timeout,
                parallelism=parallelism,
                folder=_top(folder),
                sys_path=[str(_top(folder))],
                defaults=defaults or DagFileDefaults(),
            ),
            key=lambda result: str(result.path),
        )
        imported += len(results)
        for result in results:
            problems.extend(result.problems)
        defining = [result.path for result in results if dag_id in result.dags]
        if defining:
            return defining[0], problems, imported
    return None, problems, imported


def load_dag(
    folder: Path,
    dag_id: str,
    *,
    safe_mode: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    parallelism: int = DEFAULT_PARALLELISM,
    defaults: DagFileDefaults | None = None,
) -> tuple[DAG | None, DagBag]:
    """Find one DAG (``find_dag_file``) and import its file, and only that file, here.

    The bag holds the problems of every file imported to find it, and ``files_read`` their
    number; the DAG is None when no file defines it or the defining file failed to import.
    """
    bag = DagBag(folder, defaults=defaults or DagFileDefaults())
    path, problems, bag.files_read = find_dag_file(
        folder,
        dag_id,
        safe_mode=safe_mode,
        timeout=timeout,
        parallelism=parallelism,
        defaults=bag.defaults,
    )
    bag.problems.extend(
        problem for problem in problems if path is None or problem.filename != str(path)
    )
    if path is None:
        return None, bag
    _on_path(folder)
    bag.add_file(path)
    bag.files_read -= 1  # counted once, by its import in a child
    return bag.dags.get(dag_id), bag


def _top(folder: Path) -> Path:
    return folder if folder.is_dir() else folder.parent


def _mentions(path: Path, needle: bytes) -> bool:
    try:
        return needle in path.read_bytes()
    except OSError:
        return False
