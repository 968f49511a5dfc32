"""Import one DAG file and collect its DAGs, or say precisely why it could not be loaded.

The file is executed as a fresh module. Every DAG created while it runs is collected and
validated (cycles, tasks outside any DAG, duplicate ids). Any exception, ``SystemExit``
and ``DagFileTimeout`` included, becomes an ``ImportProblem`` naming the file and line; DAGs
of a file that failed to import are discarded, as Airflow does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import TracebackType

from tradewind.compat import airflow_import
from tradewind.config import Settings
from tradewind.exceptions import DagDefinitionError
from tradewind.sdk import definition_context, timezone
from tradewind.sdk.dag import DAG
from tradewind.sdk.definition_context import DagFileDefaults

#: Most characters of the import error stored for one file, and of one line in it. A DAG
#: file decides what its errors say (a 1 MB id, an exception with a 1 MB message, a traceback
#: showing a 1 MB line), and every DAG list carries every import error; a real traceback is a
#: few thousand characters.
MAX_STORED_CHARS = 16_000
MAX_LINE_CHARS = 1_000


def cut_line(line: str, limit: int = MAX_LINE_CHARS) -> str:
    """``line`` cut to ``limit`` characters, ending with how many were cut."""
    if len(line) <= limit:
        return line
    marker = f" [… {len(line):,} characters cut]"
    keep = max(0, limit - len(marker))
    return line[:keep] + f" [… {len(line) - keep:,} characters cut]"


def bounded(text: str, limit: int = MAX_STORED_CHARS, line_limit: int = MAX_LINE_CHARS) -> str:
    """``text`` with each line cut to ``line_limit`` characters and the whole to ``limit``.

    A long text keeps its start (the message) and its end (a traceback's innermost frames and
    exception), cut at line ends, with a line saying how much was cut between them.
    """
    lines = text.split("\n")
    if len(text) <= limit and all(len(line) <= line_limit for line in lines):
        return text
    text = "\n".join(cut_line(line, line_limit) for line in lines)
    if len(text) <= limit:
        return text
    budget = max(0, limit - len(f"\n[… {len(text):,} characters cut …]\n"))
    head, tail = text[: budget * 2 // 3], text[len(text) - (budget - budget * 2 // 3) :]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    if "\n" in tail:
        tail = tail[tail.index("\n") + 1 :]
    return f"{head}\n[… {len(text) - len(head) - len(tail):,} characters cut …]\n{tail}"


@dataclasses.dataclass(frozen=True)
class ImportProblem:
    """Why (part of) a DAG file could not be loaded."""

    filename: str
    message: str
    traceback: str
    line: int | None = None
    #: The DAG the problem is about, when it is about one DAG of a file that otherwise loaded.
    dag_id: str | None = None


class DagFileTimeout(BaseException):
    """The file took longer than the DAG processor's ``file_timeout`` to import.

    A ``BaseException`` (like ``KeyboardInterrupt``), not a ``TradewindError``, so that an
    ``except Exception`` in the DAG file cannot swallow it and keep the import going.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"the file took longer than {timeout:g} s to import "
            "(TRADEWIND__DAG_PROCESSOR__FILE_TIMEOUT)"
        )
        self.timeout = timeout


@dataclasses.dataclass
class FileImportResult:
    filename: str
    dags: list[DAG]
    problems: list[ImportProblem]


def file_defaults_from(settings: Settings) -> DagFileDefaults:
    """What DAGs take for what their file leaves unset, from ``[core] default_timezone``,
    ``max_active_runs_per_dag`` and ``max_active_tasks_per_dag``."""
    return DagFileDefaults(
        timezone=timezone.parse_timezone(str(settings.get("core", "default_timezone"))),
        max_active_runs=int(settings.get("core", "max_active_runs_per_dag")),
        max_active_tasks=int(settings.get("core", "max_active_tasks_per_dag")),
    )


def module_name_for(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    return f"tradewind_dag_{path.stem.replace('-', '_').replace('.', '_')}_{digest}"


_MACHINERY = Path(__file__).parent


def _user_frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    """The traceback without the DAG processor's own frames (importing, the timeout alarm)."""
    return [
        frame
        for frame in traceback.extract_tb(tb)
        if not frame.filename.startswith("<frozen") and Path(frame.filename).parent != _MACHINERY
    ]


def _problem_from_exception(path: Path, exc: BaseException) -> ImportProblem:
    filename = str(path)
    if isinstance(exc, SyntaxError) and (
        exc.filename in (None, filename) or Path(exc.filename or "") == path
    ):
        text = "".join(traceback.format_exception_only(type(exc), exc))
        message = f"SyntaxError: {exc.msg} ({path.name}, line {exc.lineno})"
        return ImportProblem(filename, message, text, exc.lineno)
    frames = _user_frames(exc.__traceback__)
    in_file = [frame for frame in frames if Path(frame.filename) == path]
    line = in_file[-1].lineno if in_file else None
    if isinstance(exc, SystemExit):
        message = f"the file called sys.exit({exc.code!r}) while being imported"
    elif isinstance(exc, DagFileTimeout):
        message = f"Timeout: {exc}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    if line is not None:
        message = f"{message} ({path.name}, line {line})"
    formatted = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
    formatted += "".join(traceback.format_exception_only(type(exc), exc))
    return ImportProblem(filename, message, formatted, line)


def _validate(path: Path, dags: list[DAG]) -> tuple[list[DAG], list[ImportProblem]]:
    valid: list[DAG] = []
    problems: list[ImportProblem] = []
    seen: dict[str, DAG] = {}
    for dag in dags:
        line = dag.definition_line if dag.fileloc and Path(dag.fileloc) == path else None
        where = f" ({path.name}, line {line})" if line else ""
        if dag.dag_id in seen and seen[dag.dag_id] is not dag:
            problems.append(
                ImportProblem(
                    str(path),
                    f"DAG id {dag.dag_id!r} is defined twice in this file{where}",
                    "",
                    line,
                )
            )
            continue
        try:
            dag.validate()
        except DagDefinitionError as exc:
            problems.append(
                ImportProblem(
                    str(path), f"{exc}{where}", f"{type(exc).__name__}: {exc}", line, dag.dag_id
                )
            )
            continue
        seen[dag.dag_id] = dag
        valid.append(dag)
    return valid, problems


def _orphan_problems(path: Path, orphans: list[object]) -> list[ImportProblem]:
    problems = []
    for task in orphans:
        location = getattr(task, "definition_location", None)
        line = location[1] if location and Path(location[0]) == path else None
        where = f" ({path.name}, line {line})" if line else ""
        task_id = getattr(task, "task_id", "?")
        problems.append(
            ImportProblem(
                str(path),
                f"task {task_id!r} was created outside any DAG{where}: create it inside `with "
                "DAG(...)` or pass dag=",
                "",
                line,
            )
        )
    return problems


def import_dag_file(path: Path, defaults: DagFileDefaults | None = None) -> FileImportResult:
    """Execute ``path`` and return its valid DAGs and every problem found; its DAGs take
    ``defaults`` (UTC and 16 when not given) for what the file leaves unset."""
    path = path.resolve()
    airflow_import.install()
    definition_context.take_created_dags()
    definition_context.take_orphans()
    name = module_name_for(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return FileImportResult(
            str(path), [], [ImportProblem(str(path), "not an importable Python file", "")]
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with definition_context.file_defaults(defaults or DagFileDefaults()):
            spec.loader.exec_module(module)
    except (Exception, SystemExit, DagFileTimeout) as exc:
        sys.modules.pop(name, None)
        definition_context.take_created_dags()
        definition_context.take_orphans()
        return FileImportResult(str(path), [], [_problem_from_exception(path, exc)])
    created = definition_context.take_created_dags()
    orphans = definition_context.take_orphans()
    for value in vars(module).values():
        if isinstance(value, DAG) and all(value is not dag for dag in created):
            created.append(value)
    for dag in created:
        # As in Airflow, a DAG belongs to the file that was imported, even when a factory in a
        # helper module created it (whose line is then not a line of this file).
        if dag.fileloc is None or Path(dag.fileloc) != path:
            dag.fileloc, dag.definition_line = str(path), None
    dags, problems = _validate(path, created)
    problems.extend(_orphan_problems(path, orphans))
    if orphans:
        dags = []
    return FileImportResult(str(path), dags, problems)
