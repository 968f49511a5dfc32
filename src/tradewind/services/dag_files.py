"""DAGs read from their files rather than the metastore: the other source of ``tradewind dags
list``, when the DAG folder has not been parsed into the metastore yet.

The files are imported in child processes exactly as the DAG processor does, so a file that
hangs or crashes cannot take the command down with it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tradewind import serialization
from tradewind.config import Settings
from tradewind.dag_processing import importer
from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.file_parsing import parse_files
from tradewind.dag_processing.importer import ImportProblem
from tradewind.sdk.dag import DAG
from tradewind.services.dags import DagInfo


def _file_info(dag: DAG, fileloc: str) -> DagInfo:
    return DagInfo(
        dag_id=dag.dag_id,
        fileloc=fileloc,
        owners=dag.owner,
        is_paused=None,
        is_active=True,
        schedule=dag.timetable.summary,
        tags=list(dag.tags),
        next_dagrun=None,
        next_dagrun_data_interval_start=None,
        next_dagrun_data_interval_end=None,
        has_import_errors=False,
    )


def parse_folder(settings: Settings, folder: Path) -> tuple[list[DagInfo], list[ImportProblem]]:
    """The DAGs of the files in ``folder`` (or of that one file), by importing them in child
    processes with the DAG processor's time limit; and the problems of the files that failed,
    bounded as stored import errors are."""
    paths = find_dag_files(folder)
    results = parse_files(
        paths,
        timeout=float(settings.get("dag_processor", "file_timeout")),
        parallelism=int(settings.get("dag_processor", "parsing_processes")),
        folder=folder if folder.is_dir() else folder.parent,
        sys_path=[str(folder if folder.is_dir() else folder.parent)],
        defaults=importer.file_defaults_from(settings),
    )
    found: dict[str, DagInfo] = {}
    problems: list[ImportProblem] = []
    for result in sorted(results, key=lambda r: str(r.path)):
        problems.extend(
            dataclasses.replace(
                problem,
                message=importer.cut_line(problem.message),
                traceback=importer.bounded(problem.traceback),
            )
            for problem in result.problems
        )
        for dag_id, serialized in result.dags.items():
            if dag_id in found:
                problems.append(
                    ImportProblem(
                        str(result.path),
                        f"DAG id {dag_id!r} is already defined in {found[dag_id].fileloc}",
                        "",
                        None,
                        dag_id,
                    )
                )
                continue
            found[dag_id] = _file_info(serialization.deserialize_dag(serialized), str(result.path))
    return [found[dag_id] for dag_id in sorted(found)], problems
