"""``tradewind dags ...``: test, show and list DAGs."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from tradewind import config
from tradewind.cli import common
from tradewind.cli.output import echo_rows, output_option
from tradewind.exceptions import ParamValidationError, TradewindError
from tradewind.runner.env_lookups import environment_connection, environment_variable
from tradewind.sdk.states import DagRunState
from tradewind.services import dag_graph
from tradewind.services import dags as dag_service
from tradewind.services.dag_test import LocalDagRun, make_run_info


@click.group("dags")
def dags_group() -> None:
    """Work with DAGs."""


@dags_group.command("test")
@click.argument("dag_id")
@click.argument("logical_date", required=False)
@common.dags_folder_option
@click.option(
    "--conf", "-c", default=None, help="JSON object of run configuration (overrides params)."
)
@click.option(
    "--no-retry-delay",
    is_flag=True,
    help="Retry failed tasks at once instead of waiting retry_delay.",
)
@output_option()
def test_command(
    dag_id: str,
    logical_date: str | None,
    dags_folder: Path | None,
    conf: str | None,
    no_retry_delay: bool,
    output: str,
) -> None:
    """Run one whole DAG run in this process and print each task's state.

    Exit code 0 when the run succeeded, 1 when it failed, 2 when the DAG could not be loaded.
    """
    folder = common.resolve_dags_folder(dags_folder)
    dag = common.load_dag_or_exit(dag_id, folder)
    run = make_run_info(dag, common.parse_date(logical_date), common.parse_conf(conf))
    try:
        local_run = LocalDagRun(
            dag,
            run,
            use_retry_delay=not no_retry_delay,
            variable_lookup=environment_variable,
            connection_lookup=environment_connection,
        )
    except ParamValidationError as exc:
        common.fail(str(exc), common.EXIT_LOAD_ERROR)
    redirect = common.stdout_to_stderr() if output == "json" else contextlib.nullcontext()
    with redirect, common.task_logging(sys.stderr if output == "json" else sys.stdout):
        result = local_run.execute()
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        rows = [
            {
                "task": ti.key,
                "state": ti.state.value if ti.state else "none",
                "try_number": ti.try_number,
                "duration": f"{ti.duration:.3f}s" if ti.duration is not None else "",
            }
            for ti in result.task_instances
        ]
        click.echo("")
        echo_rows(rows, output)
        click.echo(f"\nDAG run {result.run_id}: {result.state.value}")
    sys.exit(0 if result.state is DagRunState.SUCCESS else 1)


@dags_group.command("show")
@click.argument("dag_id")
@common.dags_folder_option
@click.option("--ascii", "as_ascii", is_flag=True, help="Draw the graph as text instead of DOT.")
def show_command(dag_id: str, dags_folder: Path | None, as_ascii: bool) -> None:
    """Print the DAG's graph in DOT (for Graphviz), or as text with --ascii."""
    dag = common.load_dag_or_exit(dag_id, common.resolve_dags_folder(dags_folder))
    click.echo(dag_graph.ascii_graph(dag) if as_ascii else dag_graph.dot(dag))


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
    settings = config.load()
    folder = common.resolve_dags_folder(dags_folder)
    try:
        found = dag_service.stored_dags(settings, under=folder if dags_folder is not None else None)
    except TradewindError as exc:
        click.echo(
            f"Warning: cannot read the metastore ({exc}); reading the DAG folder instead", err=True
        )
        found = None
    problems: list[dag_service.ImportProblem] = []
    if not found:
        if not folder.exists():
            click.echo(f"Warning: DAG folder {folder} does not exist", err=True)
        found, problems = dag_service.parse_folder(settings, folder)
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
