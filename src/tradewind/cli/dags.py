"""``tradewind dags ...``: the group, and listing DAGs.

The group's other commands live in modules of their own (``registry.COMMANDS``), each
imported when its command runs: ``dag_testing`` (test, show), ``dag_admin`` (trigger, pause,
list-runs, ...), ``dag_parsing``, ``backfill``, ``clear``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tradewind import config
from tradewind.cli import common, registry
from tradewind.cli.output import echo_rows, output_option
from tradewind.exceptions import TradewindError

if TYPE_CHECKING:
    from tradewind.dag_processing.importer import ImportProblem


@click.group("dags", cls=registry.LazySubgroup)
def dags_group() -> None:
    """Work with DAGs."""


@dags_group.command("list")
@common.dags_folder_option
@output_option()
def list_command(dags_folder: Path | None, output: str) -> None:
    """List DAGs: from the metastore once the DAG folder has been parsed (by `dag-processor`
    or `dags reserialize`), otherwise by importing the folder's files.

    With --dags-folder, only the DAGs of that folder (or file) are listed. Columns: dag_id,
    fileloc, owners, is_paused, schedule (the timetable summary), tags, next_dagrun; JSON adds
    timetable_summary and has_import_errors. is_paused and next_dagrun are empty for DAGs
    read from their files.
    """
    # Imported here, not with the group: the group's other commands (``dags test``, ``show``)
    # never read the metastore and must not pay for SQLAlchemy and the models.
    from tradewind.services import dags as dag_service

    settings = config.load()
    folder = common.resolve_dags_folder(dags_folder)
    try:
        found = dag_service.stored_dags(settings, under=folder if dags_folder is not None else None)
    except TradewindError as exc:
        click.echo(
            f"Warning: cannot read the metastore ({exc}); reading the DAG folder instead", err=True
        )
        found = None
    problems: list[ImportProblem] = []
    if not found:
        # Only here: importing the folder's files needs the DAG processor's machinery.
        from tradewind.services import dag_files

        if not folder.exists():
            click.echo(f"Warning: DAG folder {folder} does not exist", err=True)
        found, problems = dag_files.parse_folder(settings, folder)
    columns = ["dag_id", "fileloc", "owners", "is_paused", "schedule", "tags", "next_dagrun"]
    if output == "json":
        columns += ["timetable_summary", "has_import_errors"]
    rows = [
        {
            "dag_id": info.dag_id,
            "fileloc": info.fileloc,
            "owners": info.owners,
            "is_paused": info.is_paused,
            "schedule": info.schedule,
            "timetable_summary": info.schedule,
            "tags": sorted(info.tags),
            "next_dagrun": info.next_dagrun,
            "has_import_errors": info.has_import_errors,
        }
        for info in found
    ]
    echo_rows(rows, output, columns)
    for problem in problems:
        click.echo(f"Import error in {problem.filename}: {problem.message}", err=True)
