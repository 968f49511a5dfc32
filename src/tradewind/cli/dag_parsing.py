"""``tradewind dags ...`` commands about parsing the DAG folder: import errors, reserialize."""

from __future__ import annotations

import json

import click

from tradewind import config
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
        click.echo(json.dumps([{"filename": e.filename, "timestamp": e.timestamp.isoformat(),
                                "stacktrace": e.stacktrace} for e in errors], indent=2))
        return
    if not errors:
        click.echo("No import errors")
        return
    for error in errors:
        click.echo(f"{error.filename}  ({error.timestamp.isoformat()})")
        click.echo("  " + error.stacktrace.replace("\n", "\n  "))


@dags_group.command("reserialize")
@user_errors
def reserialize_command() -> None:
    """Parse every file of the DAG folder once and store the results."""
    settings = config.load()
    engine = db_admin.open_engine(settings)
    try:
        summary = DagProcessor(settings, engine).run_once(force=True)
    finally:
        engine.dispose()
    click.echo(
        f"Parsed {summary.files_parsed} files in {summary.seconds:.2f} s: {summary.dags_seen} DAGs, "
        f"{summary.versions_added} new versions, {summary.import_errors} files with import errors"
    )
