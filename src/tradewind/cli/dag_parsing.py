"""``tradewind dags ...`` commands about parsing the DAG folder: import errors, reserialize."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tradewind import config
from tradewind.cli import common
from tradewind.cli.dags import dags_group
from tradewind.cli.output import output_option, user_errors
from tradewind.dag_processing.manager import DagProcessor
from tradewind.services import dags, db_admin


@dags_group.command("list-import-errors")
@output_option()
@user_errors
def list_import_errors_command(output: str) -> None:
    """Files of the DAG folder that could not be loaded, with the reason."""
    errors = db_admin.run(config.load(), dags.list_import_errors, readonly=True)
    if output == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "filename": e.filename,
                        "timestamp": e.timestamp.isoformat(),
                        "stacktrace": e.stacktrace,
                    }
                    for e in errors
                ],
                indent=2,
            )
        )
        return
    if not errors:
        click.echo("No import errors")
        return
    for error in errors:
        click.echo(f"{error.filename}  ({error.timestamp.isoformat()})")
        click.echo("  " + error.stacktrace.replace("\n", "\n  "))


@dags_group.command("reserialize")
@common.dags_folder_option
@user_errors
def reserialize_command(dags_folder: Path | None) -> None:
    """Parse every file of the DAG folder once (changed or not) and store the results.

    Prints a summary, and each file with an import error on stderr; the exit code is 0 even
    then (the errors are stored, see `dags list-import-errors`).
    """
    settings = config.load()
    if dags_folder is not None:
        settings = settings.with_values(
            core__dags_folder=str(common.resolve_dags_folder(dags_folder))
        )
    engine = db_admin.open_engine(settings)
    try:
        summary = DagProcessor(settings, engine).run_once(force=True)
    finally:
        engine.dispose()
    for filename, message in summary.errors:
        click.echo(f"Import error in {filename}: {message}", err=True)
    click.echo(
        f"Parsed {summary.files_parsed} files in {summary.seconds:.2f} s: {summary.dags_seen} "
        f"DAGs, {summary.versions_added} new versions, {summary.import_errors} files with import "
        f"errors, {summary.deactivated} DAGs deactivated"
    )
