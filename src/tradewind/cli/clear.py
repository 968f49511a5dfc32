"""Re-runs from the command line: ``tasks clear``, ``dags clear``, and marking states."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from tradewind import config, wakeup
from tradewind.cli import common
from tradewind.cli.dags import dags_group
from tradewind.cli.output import user_errors
from tradewind.cli.tasks import tasks_group
from tradewind.exceptions import InvalidArgument
from tradewind.sdk import timezone
from tradewind.sdk.states import TaskInstanceState
from tradewind.services import clearing, dag_runs, db_admin, task_instances
from tradewind.services import dags as dag_service

F = TypeVar("F", bound=Callable[..., Any])


def _describe(tis: list) -> list[str]:
    return [
        f"  {ti.run_id}  {dag_runs.task_key(ti.task_id, ti.map_index)}  ({ti.state})" for ti in tis
    ]


def _run_clear(dag_id: str, request: clearing.ClearRequest, yes: bool, dry_run: bool) -> None:
    settings = config.load()
    now = timezone.utcnow()
    preview = db_admin.run(
        settings, lambda s: clearing.clear(s, dag_id, request, dry_run=True, now=now), readonly=True
    )
    if not preview:
        click.echo("No task instances to clear")
        return
    click.echo(f"{len(preview)} task instance(s) to clear:")
    click.echo("\n".join(_describe(preview)))
    if dry_run:
        click.echo("dry run: nothing was changed")
        return
    if not yes:
        click.confirm("Clear them?", abort=True)
    cleared = db_admin.run(
        settings, lambda s: clearing.clear(s, dag_id, request, dry_run=False, now=timezone.utcnow())
    )
    wakeup.notify(settings.home)
    click.echo(f"Cleared {len(cleared)} task instance(s); the scheduler will run them again")


def _matching_tasks(dag_id: str, pattern: str | None) -> list[clearing.TaskSelector] | None:
    if pattern is None:
        return None
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise InvalidArgument(
            f"--task-regex {pattern!r} is not a valid regular expression: {exc}"
        ) from None
    _, _, dag = db_admin.run(
        config.load(), lambda s: dag_service.latest_dag(s, dag_id), readonly=True
    )
    selected = [clearing.TaskSelector(task_id) for task_id in dag.task_ids if regex.search(task_id)]
    if not selected:
        raise InvalidArgument(f"no task of DAG {dag_id!r} matches {pattern!r}")
    return selected


def _date(raw: str | None, name: str) -> datetime | None:
    return common.parse_date(raw, name) if raw else None


@tasks_group.command("clear")
@click.argument("dag_id")
@click.option(
    "--task-regex", "-t", default=None, help="Only tasks whose id matches this regular expression."
)
@click.option(
    "--start-date", "-s", default=None, help="Only runs with a logical date on or after this."
)
@click.option(
    "--end-date", "-e", default=None, help="Only runs with a logical date on or before this."
)
@click.option(
    "--upstream", "-u", is_flag=True, help="Also the upstream tasks of the selected ones."
)
@click.option(
    "--downstream", "-d", is_flag=True, help="Also the downstream tasks of the selected ones."
)
@click.option(
    "--only-failed", "-f", is_flag=True, help="Only failed and upstream_failed task instances."
)
@click.option("--only-running", "-r", is_flag=True, help="Only running task instances.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="List what would be cleared; change nothing.")
@user_errors
def tasks_clear_command(
    dag_id: str,
    task_regex: str | None,
    start_date: str | None,
    end_date: str | None,
    upstream: bool,
    downstream: bool,
    only_failed: bool,
    only_running: bool,
    yes: bool,
    dry_run: bool,
) -> None:
    """Reset task instances so the scheduler runs them
    again (try number goes up, history is kept)."""
    request = clearing.ClearRequest(
        tasks=_matching_tasks(dag_id, task_regex),
        start_date=_date(start_date, "--start-date"),
        end_date=_date(end_date, "--end-date"),
        only_failed=only_failed,
        only_running=only_running,
        include_upstream=upstream,
        include_downstream=downstream,
    )
    _run_clear(dag_id, request, yes, dry_run)


@dags_group.command("clear")
@click.argument("dag_id")
@click.option("--run-id", "-r", default=None, help="Only this run.")
@click.option(
    "--start-date", "-s", default=None, help="Only runs with a logical date on or after this."
)
@click.option(
    "--end-date", "-e", default=None, help="Only runs with a logical date on or before this."
)
@click.option(
    "--only-failed", "-f", is_flag=True, help="Only failed and upstream_failed task instances."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="List what would be cleared; change nothing.")
@user_errors
def dags_clear_command(
    dag_id: str,
    run_id: str | None,
    start_date: str | None,
    end_date: str | None,
    only_failed: bool,
    yes: bool,
    dry_run: bool,
) -> None:
    """Clear whole runs: every task instance runs again and the runs go back to running."""
    request = clearing.ClearRequest(
        run_id=run_id,
        start_date=_date(start_date, "--start-date"),
        end_date=_date(end_date, "--end-date"),
        only_failed=only_failed,
    )
    _run_clear(dag_id, request, yes, dry_run)


def _mark_task(
    dag_id: str,
    run_id: str,
    task_id: str,
    state: str,
    map_index: int | None,
    upstream: bool,
    downstream: bool,
) -> None:
    settings = config.load()
    changed = db_admin.run(
        settings,
        lambda s: task_instances.set_state(
            s,
            dag_id,
            run_id,
            task_id,
            state,
            map_index=map_index,
            upstream=upstream,
            downstream=downstream,
            now=timezone.utcnow(),
        ),
    )
    wakeup.notify(settings.home)
    click.echo(f"Marked {len(changed)} task instance(s) {state}:")
    click.echo("\n".join(_describe(changed)))


def _mark_options(function: F) -> F:
    for decorator in reversed(
        [
            click.argument("dag_id"),
            click.argument("run_id"),
            click.argument("task_id"),
            click.option(
                "--map-index", type=int, default=None, help="Only this map index of a mapped task."
            ),
            click.option("--upstream", "-u", is_flag=True, help="Also its upstream tasks."),
            click.option("--downstream", "-d", is_flag=True, help="Also its downstream tasks."),
        ]
    ):
        function = decorator(function)
    return function


@tasks_group.command("mark-success")
@_mark_options
@user_errors
def tasks_mark_success(
    dag_id: str, run_id: str, task_id: str, map_index: int | None, upstream: bool, downstream: bool
) -> None:
    """Mark a task instance (and optionally its relatives) success."""
    _mark_task(
        dag_id, run_id, task_id, TaskInstanceState.SUCCESS.value, map_index, upstream, downstream
    )


@tasks_group.command("mark-failed")
@_mark_options
@user_errors
def tasks_mark_failed(
    dag_id: str, run_id: str, task_id: str, map_index: int | None, upstream: bool, downstream: bool
) -> None:
    """Mark a task instance (and optionally its relatives) failed."""
    _mark_task(
        dag_id, run_id, task_id, TaskInstanceState.FAILED.value, map_index, upstream, downstream
    )


def _mark_run(dag_id: str, run_id: str, state: str) -> None:
    settings = config.load()
    run = db_admin.run(
        settings, lambda s: dag_runs.set_run_state(s, dag_id, run_id, state, now=timezone.utcnow())
    )
    wakeup.notify(settings.home)
    click.echo(f"Run {run.run_id} of {dag_id} is {run.state}")


@dags_group.command("mark-success")
@click.argument("dag_id")
@click.argument("run_id")
@user_errors
def dags_mark_success(dag_id: str, run_id: str) -> None:
    """Mark a run success (its unfinished task instances too)."""
    _mark_run(dag_id, run_id, "success")


@dags_group.command("mark-failed")
@click.argument("dag_id")
@click.argument("run_id")
@user_errors
def dags_mark_failed(dag_id: str, run_id: str) -> None:
    """Mark a run failed (its unfinished task instances too)."""
    _mark_run(dag_id, run_id, "failed")
