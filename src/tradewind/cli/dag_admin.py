"""``tradewind dags ...`` commands that work on runs
in the metastore: trigger, pause, list-runs, state."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from tradewind import config, wakeup
from tradewind.cli.dags import dags_group
from tradewind.cli.output import echo_rows, output_option, user_errors
from tradewind.exceptions import DagRunNotFound, InvalidArgument
from tradewind.sdk import timezone
from tradewind.services import cross_dag, dag_metadata, dag_runs, dags, db_admin

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def _iso(value: object) -> str | None:
    return value.isoformat() if hasattr(value, "isoformat") else None


def _parse_conf(raw: str | None) -> dict[str, Any]:
    """``--conf``: a JSON object; anything else is a user error (exit 1, nothing stored)."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"--conf must be a JSON object, got {type(value).__name__}")
    return value


def _parse_date(raw: str | None, name: str) -> datetime | None:
    if raw is None:
        return None
    try:
        return timezone.parse(raw)
    except ValueError as exc:
        raise InvalidArgument(f"{name} {raw!r} is not an ISO 8601 date: {exc}") from None


@dags_group.command("trigger")
@click.argument("dag_id")
@click.option(
    "--conf",
    "-c",
    default=None,
    help="JSON object of run configuration (validated against params).",
)
@click.option("--run-id", "-r", default=None, help="Run id (default manual__<logical date>).")
@click.option("--logical-date", "-l", default=None, help="Logical date, ISO 8601 (default now).")
@output_option()
@user_errors
def trigger_command(
    dag_id: str, conf: str | None, run_id: str | None, logical_date: str | None, output: str
) -> None:
    """Create a manual run; the scheduler runs it."""
    settings = config.load()
    parsed_conf = _parse_conf(conf)
    date = _parse_date(logical_date, "--logical-date")

    def create(session: Any) -> dag_runs.RunInfoRow:
        dag_runs.check_triggerable(session, dag_id)
        return dag_runs.trigger(
            session,
            dag_id,
            conf=parsed_conf,
            run_id=run_id,
            logical_date=date,
            now=timezone.utcnow(),
        )

    run = db_admin.run(settings, create)
    wakeup.notify(settings.home)
    if output == "json":
        click.echo(json.dumps({"dag_id": dag_id, **run.to_json(), "conf": run.conf}))
    else:
        click.echo(f"Created run {run.run_id} of DAG {dag_id} (state {run.state})")


def _set_paused(dag_id: str, paused: bool) -> None:
    settings = config.load()
    info = db_admin.run(
        settings, lambda s: dags.set_paused(s, dag_id, paused, now=timezone.utcnow())
    )
    wakeup.notify(settings.home)
    click.echo(f"DAG {info.dag_id} is {'paused' if info.is_paused else 'unpaused'}")


@dags_group.command("pause")
@click.argument("dag_id")
@user_errors
def pause_command(dag_id: str) -> None:
    """Pause a DAG: no new scheduled runs; running ones finish."""
    _set_paused(dag_id, True)


@dags_group.command("unpause")
@click.argument("dag_id")
@user_errors
def unpause_command(dag_id: str) -> None:
    """Unpause a DAG: scheduled runs resume (catching up if catchup=True)."""
    _set_paused(dag_id, False)


@dags_group.command("delete")
@click.argument("dag_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@user_errors
def delete_command(dag_id: str, yes: bool) -> None:
    """Delete a DAG's records: runs, task instances, XComs, versions. Refused while its tasks run.

    The DAG file is left alone: while it is in the DAG folder, the DAG processor stores the DAG
    again at once, as a new DAG without runs.
    """
    if not yes:
        click.confirm(f"This deletes every record of DAG {dag_id}. Proceed?", abort=True)
    settings = config.load()
    db_admin.run(settings, lambda s: dag_metadata.delete_dag(s, dag_id))
    wakeup.notify(settings.home, wakeup.DAG_PROCESSOR)
    click.echo(f"Deleted DAG {dag_id}")


@dags_group.command("list-runs")
@click.argument("dag_id")
@click.option("--state", default=None, help="Only runs in this state.")
@click.option("--limit", type=int, default=None, help="At most this many (newest first).")
@output_option()
@user_errors
def list_runs_command(dag_id: str, state: str | None, limit: int | None, output: str) -> None:
    """List the runs of a DAG, newest first."""
    runs = db_admin.run(
        config.load(),
        lambda s: dag_runs.list_runs(s, dag_id, state=state, limit=limit),
        readonly=True,
    )
    if output == "json":
        click.echo(json.dumps([run.to_json() for run in runs], indent=2))
    else:
        echo_rows([{"dag_id": dag_id, **run.to_json()} for run in runs], output)


@dags_group.command("state")
@click.argument("dag_id")
@click.argument("run_id")
@user_errors
def state_command(dag_id: str, run_id: str) -> None:
    """Print the state of one run (RUN_ID may also be the run's logical date, as in Airflow)."""

    def read(session: Any) -> dag_runs.RunInfoRow:
        dags.get_dag_row(session, dag_id)
        run = cross_dag.find_run(session, dag_id, run_id=run_id)
        if run is None:
            try:
                date = timezone.parse(run_id)
            except ValueError:
                date = None
            run = (
                cross_dag.find_run(session, dag_id, logical_date=date) if date is not None else None
            )
        if run is None:
            raise DagRunNotFound(f"DAG {dag_id!r} has no run {run_id!r}")
        return dag_runs.run_info(session, dag_id, run.run_id)

    run = db_admin.run(config.load(), read, readonly=True)
    click.echo(run.state)


@dags_group.command("next-execution")
@click.argument("dag_id")
@user_errors
def next_execution_command(dag_id: str) -> None:
    """Print the logical date and data interval of the next scheduled run."""

    def read(session: Session) -> tuple[dags.DagInfo, object]:
        row = dags.get_dag_row(session, dag_id)
        return dags._info(row), dags.last_run(session, dag_id)

    info, last = db_admin.run(config.load(), read, readonly=True)
    if info.next_dagrun is None:
        click.echo("None")
        if info.is_paused:
            click.echo(f"(DAG {dag_id} is paused)", err=True)
        return
    click.echo(info.next_dagrun.isoformat())
    click.echo(
        f"data interval: {_iso(info.next_dagrun_data_interval_start)} .. "
        f"{_iso(info.next_dagrun_data_interval_end)}",
        err=True,
    )
    if info.is_paused:
        click.echo(
            f"(DAG {dag_id} is paused: no run will be created until it is unpaused)", err=True
        )
