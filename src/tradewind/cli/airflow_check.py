"""``tradewind airflow check [PATH]``: which DAG files of a folder written for Airflow load in
Tradewind, and what blocks the others."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tradewind import config
from tradewind.cli.output import output_option, render, user_errors
from tradewind.compat import airflow_scan
from tradewind.dag_processing.discovery import find_dag_files
from tradewind.dag_processing.file_parsing import parse_files


@click.group("airflow")
def airflow_group() -> None:
    """Move DAG files written for Apache Airflow to Tradewind."""


@airflow_group.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path, exists=True))
@output_option()
@user_errors
def check_command(path: Path | None, output: str) -> None:
    """Import each DAG file of PATH (default: the DAG folder) as the DAG processor does, in a
    child process, and print per file `ok` or what blocks it, then `N of M files load`.

    Exits 0 when every file loads, 1 otherwise.
    """
    settings = config.load()
    target = (path or settings.dags_folder).expanduser().resolve()
    folder = target if target.is_dir() else target.parent
    files = find_dag_files(target) if target.is_dir() else [target]
    parsed = parse_files(
        files,
        timeout=float(settings.get("dag_processor", "file_timeout")),
        parallelism=int(settings.get("dag_processor", "parsing_processes")),
        folder=folder,
        sys_path=[str(folder)],
    )
    rows = [_row(result, folder) for result in sorted(parsed, key=lambda r: str(r.path))]
    loaded = sum(1 for row in rows if row["ok"])
    if output == "json":
        report = {"files": rows, "loaded": loaded, "total": len(rows)}
        click.echo(json.dumps(report, indent=2))
    else:
        table = [
            {
                "file": row["file"],
                "status": "ok" if row["ok"] else "blocked",
                "detail": ", ".join(row["dags"]) if row["ok"] else "; ".join(row["problems"]),
            }
            for row in rows
        ]
        if table:
            click.echo(render(table, output))
        click.echo(f"{loaded} of {len(rows)} files load")
    sys.exit(0 if loaded == len(rows) else 1)


def _row(result: Any, folder: Path) -> dict[str, Any]:
    """One file: its DAGs, and every problem: the ``airflow`` imports Tradewind lacks (also
    those in functions, which would fail only when a task runs), then the import's own
    errors that they do not already explain. ``ok``: it imports and nothing blocks it."""
    source = result.path.read_text(encoding="utf-8", errors="replace")
    found = airflow_scan.blockers(source, str(result.path))
    problems = [blocker.describe() for blocker in found]
    for problem in result.problems:
        if any(f"{b.construct} is not available" in problem.message for b in found):
            continue
        last = problem.message.strip().splitlines()[-1] if problem.message.strip() else ""
        problems.append(f"line {problem.line}: {last}" if problem.line else last)
    try:
        relative = result.path.relative_to(folder).as_posix()
    except ValueError:
        relative = str(result.path)
    return {"file": relative, "ok": not problems, "dags": sorted(result.dags), "problems": problems}
