"""``tradewind tasks ...`` commands on task instances in the metastore: states-for-dag-run, logs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind import config
from tradewind.cli.output import echo_rows, output_option, user_errors
from tradewind.cli.tasks import tasks_group
from tradewind.db import engine as db_engine
from tradewind.exceptions import InvalidArgument, TaskNotFound
from tradewind.runner.log_paths import try_log_path
from tradewind.sdk.states import FINISHED_STATES
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services import dag_runs, db_admin

#: Seconds between looks at the log file and the task instance while following.
FOLLOW_INTERVAL = 0.5


@tasks_group.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("run_id")
@output_option()
@user_errors
def states_for_dag_run_command(dag_id: str, run_id: str, output: str) -> None:
    """Print the state of every task instance of one run.

    ``-o json`` prints the same object as ``tradewind dags test -o json``:
    {"dag_id", "run_id", "state", "tasks": {KEY: {"state", "try_number", "duration"}}},
    KEY being task_id, or task_id[i] for map index i.
    """
    result = db_admin.run(
        config.load(), lambda s: dag_runs.run_states_json(s, dag_id, run_id), readonly=True
    )
    if output == "json":
        click.echo(json.dumps(result, indent=2))
        return
    rows = [
        {
            "task": key,
            "state": values["state"] or "none",
            "try_number": values["try_number"],
            "duration": f"{values['duration']:.3f}s" if values["duration"] is not None else "",
        }
        for key, values in result["tasks"].items()
    ]
    echo_rows(rows, output)
    if output == "table":
        click.echo(f"\nDAG run {run_id}: {result['state']}")


def _task_instance(
    session: Session, dag_id: str, run_id: str, task_id: str, map_index: int | None
) -> tuple[int, int, str | None]:
    """(map_index, try_number, state) of the task instance; errors name what is missing."""
    run = dag_runs.get_run(session, dag_id, run_id)
    tis = [ti for ti in dag_runs.task_instances(session, dag_id, run_id) if ti.task_id == task_id]
    if not tis:
        raise TaskNotFound(f"run {run.run_id!r} of DAG {dag_id!r} has no task {task_id!r}")
    if map_index is None:
        if len(tis) > 1 or tis[0].map_index >= 0:
            indexes = sorted(ti.map_index for ti in tis)
            raise InvalidArgument(
                f"task {task_id!r} is mapped: give --map-index (one of {indexes[0]}..{indexes[-1]})"
            )
        map_index = -1
    for ti in tis:
        if ti.map_index == map_index:
            return ti.map_index, ti.try_number, ti.state
    raise InvalidArgument(f"task {task_id!r} of run {run_id!r} has no map index {map_index}")


@tasks_group.command("logs")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id")
@click.option(
    "--try",
    "--try-number",
    "-t",
    "try_number",
    type=int,
    default=None,
    help="Which try (default: the latest).",
)
@click.option(
    "--map-index", "-m", type=int, default=None, help="Map index of a mapped task instance."
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Keep printing the log as it grows, until the task instance finishes.",
)
@user_errors
def logs_command(
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int | None,
    map_index: int | None,
    follow: bool,
) -> None:
    """Print the log of one try of a task instance (connection passwords and secret variables
    are masked when the log is written)."""
    settings = config.load()
    engine = db_admin.open_engine(settings)
    try:

        def look(session: Session) -> tuple[int, int, str | None]:
            return _task_instance(session, dag_id, run_id, task_id, map_index)

        index, current_try, state = db_engine.run_in_transaction(engine, look, readonly=True)
        if try_number is not None and (try_number < 1 or try_number > max(current_try, 1)):
            raise InvalidArgument(
                f"task instance {task_id}{'' if index < 0 else f'[{index}]'} has no try "
                f"{try_number} (latest: {current_try})"
            )
        wanted = try_number if try_number is not None else max(current_try, 1)
        path = try_log_path(settings.log_folder, dag_id, run_id, task_id, index, wanted)
        if not follow:
            if not path.exists():
                if current_try == 0:
                    raise InvalidArgument(
                        f"task {task_id} of run {run_id} has no log: it has not run (state "
                        f"{state or 'none'})"
                    )
                raise InvalidArgument(
                    f"no log for try {wanted} of task {task_id} of run {run_id} ({path})"
                )
            _copy(path, 0)
            return
        _follow(
            engine, settings.log_folder, dag_id, run_id, task_id, index, wanted, try_number is None
        )
    finally:
        engine.dispose()


def _copy(path: Path, offset: int) -> int:
    """Write the file's complete lines from ``offset`` to stdout; return the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return offset
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return offset + len(data)


def _follow(
    engine: Engine,
    log_folder: Path,
    dag_id: str,
    run_id: str,
    task_id: str,
    index: int,
    try_number: int,
    latest: bool,
) -> None:
    """Print the try's log as it grows. Following the latest try, go on with each new try until
    the task instance is finished; following a given try, stop when that try is over."""
    offset = 0
    while True:

        def look(session: Session) -> tuple[int, int, str | None]:
            return _task_instance(session, dag_id, run_id, task_id, None if index < 0 else index)

        # Look at the state first, then read: a finished state is recorded after the try's
        # last log line is written, so this read gets the whole log.
        _index, current_try, state = db_engine.run_in_transaction(engine, look, readonly=True)
        path = try_log_path(log_folder, dag_id, run_id, task_id, index, try_number)
        offset = _copy(path, offset)
        finished = state is not None and TIS(state) in FINISHED_STATES
        if current_try > try_number:
            if not latest:
                return
            try_number += 1
            offset = 0
            click.echo(f"*** attempt {try_number} ***", err=True)
            continue
        if current_try == try_number and (
            finished or (not latest and state == TIS.UP_FOR_RETRY.value)
        ):
            return
        if current_try == 0 and finished:
            return  # settled without running (skipped, upstream_failed): there is no log
        time.sleep(FOLLOW_INTERVAL)
