"""``tradewind tasks list`` and ``tasks test``: a DAG's tasks, from its file, in this process
and without the metastore."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tradewind.cli import common, dag_loading
from tradewind.cli.tasks import tasks_group
from tradewind.exceptions import ParamValidationError, TaskNotFound
from tradewind.runner import task_execution
from tradewind.runner.env_lookups import environment_connection, environment_variable
from tradewind.runner.xcom_store import InMemoryXComStore
from tradewind.sdk.states import TaskInstanceState
from tradewind.services import dag_graph
from tradewind.services.dag_test import make_run_info


@tasks_group.command("list")
@click.argument("dag_id")
@common.dags_folder_option
@click.option("--tree", "-t", is_flag=True, help="Show tasks as a tree of their dependencies.")
def list_command(dag_id: str, dags_folder: Path | None, tree: bool) -> None:
    """List the tasks of a DAG."""
    dag = dag_loading.load_dag_or_exit(dag_id, common.resolve_dags_folder(dags_folder))
    if tree:
        click.echo(dag_graph.tree(dag))
    else:
        for task_id in sorted(dag.task_ids):
            click.echo(task_id)


@tasks_group.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", required=False)
@common.dags_folder_option
@click.option("--map-index", type=int, default=-1, help="Map index of a mapped task.")
@click.option(
    "--task-params", "-t", default=None, help="JSON object of run configuration for this test."
)
def test_command(
    dag_id: str,
    task_id: str,
    logical_date: str | None,
    dags_folder: Path | None,
    map_index: int,
    task_params: str | None,
) -> None:
    """Run one task once, ignoring its dependencies and recording nothing.

    Exit code 0 when the task succeeded (or was skipped), 1 when it failed.
    """
    dag = dag_loading.load_dag_or_exit(dag_id, common.resolve_dags_folder(dags_folder))
    try:
        task = dag.get_task(task_id)
    except TaskNotFound as exc:
        common.fail(str(exc), common.EXIT_LOAD_ERROR)
    run = make_run_info(dag, common.parse_date(logical_date), common.parse_conf(task_params))
    try:
        params = dag.params.resolve(run.conf)
    except ParamValidationError as exc:
        common.fail(str(exc), common.EXIT_LOAD_ERROR)
    if task.is_mapped and map_index < 0:
        map_index = 0
    request = task_execution.TryRequest(
        task=task, run=run, params=params, map_index=map_index, test_mode=True
    )
    with dag_loading.task_logging(sys.stdout):
        outcome = task_execution.execute_try(
            request,
            InMemoryXComStore(),
            variable_lookup=environment_variable,
            connection_lookup=environment_connection,
        )
    click.echo(f"Task {task_id}: {outcome.state.value}")
    sys.exit(0 if outcome.state in (TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED) else 1)
