"""``tradewind dags test`` and ``dags show``: a DAG imported from its file, run or drawn in
this process, without the metastore."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from tradewind.cli import common, dag_loading
from tradewind.cli.dags import dags_group
from tradewind.cli.output import echo_rows, output_option
from tradewind.exceptions import ParamValidationError
from tradewind.runner.env_lookups import environment_connection, environment_variable
from tradewind.sdk.states import DagRunState
from tradewind.services import dag_graph
from tradewind.services.dag_test import LocalDagRun, make_run_info


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
    dag = dag_loading.load_dag_or_exit(dag_id, folder)
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
    redirect = dag_loading.stdout_to_stderr() if output == "json" else contextlib.nullcontext()
    with redirect, dag_loading.task_logging(sys.stderr if output == "json" else sys.stdout):
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
    dag = dag_loading.load_dag_or_exit(dag_id, common.resolve_dags_folder(dags_folder))
    click.echo(dag_graph.ascii_graph(dag) if as_ascii else dag_graph.dot(dag))
