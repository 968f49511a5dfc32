"""``tradewind dags backfill`` and ``tradewind backfill list|pause|resume|cancel``."""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

import click

from tradewind import config, wakeup
from tradewind.cli import common
from tradewind.cli.dags import dags_group
from tradewind.cli.output import echo_rows, output_option, user_errors
from tradewind.db.models import ReprocessBehavior
from tradewind.sdk import timezone
from tradewind.services import backfill as backfill_service
from tradewind.services import db_admin, scheduler_health

POLL_SECONDS = 0.5


def _row(info: backfill_service.BackfillInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "dag_id": info.dag_id,
        "from_date": info.from_date.isoformat(),
        "to_date": info.to_date.isoformat(),
        "reprocess_behavior": info.reprocess_behavior,
        "max_active_runs": info.max_active_runs,
        "run_backwards": info.run_backwards,
        "state": info.state,
        "is_paused": info.is_paused,
        "runs": info.total,
        "done": info.done,
        "failed": info.failed,
        "created_by": info.created_by,
        "created_at": info.created_at.isoformat(),
        "completed_at": info.completed_at.isoformat() if info.completed_at else None,
    }


def _progress_line(info: backfill_service.BackfillInfo) -> str:
    width = 30
    filled = int(width * info.done / info.total) if info.total else width
    bar = "#" * filled + "." * (width - filled)
    return f"[{bar}] {info.done}/{info.total} runs done, {info.failed} failed ({info.state})"


def _wait(settings: config.Settings, backfill_id: int) -> backfill_service.BackfillInfo:
    tty = sys.stdout.isatty()
    last = ""
    warned = False
    started = time.monotonic()
    while True:
        info = db_admin.run(settings, lambda s: backfill_service.get(s, backfill_id), readonly=True)
        line = _progress_line(info)
        if line != last:
            click.echo(("\r" + line) if tty else line, nl=not tty)
            last = line
        if info.finished:
            if tty:
                click.echo("")
            return info
        if (
            not warned
            and time.monotonic() - started > 5
            and not db_admin.run(
                settings,
                lambda s: scheduler_health.scheduler_alive(s, timedelta(seconds=30)),
                readonly=True,
            )
        ):
            click.echo(
                "\nNo scheduler is running: start `tradewind scheduler` (or `tradewind "
                "standalone`); the backfill is stored and runs when a scheduler does.",
                err=True,
            )
            warned = True
        time.sleep(POLL_SECONDS)


@dags_group.command("backfill")
@click.argument("dag_id")
@click.option("--start-date", "-s", required=True, help="First logical date (ISO 8601).")
@click.option("--end-date", "-e", required=True, help="Last logical date (ISO 8601), inclusive.")
@click.option(
    "--reprocess-behavior",
    type=click.Choice([b.value for b in ReprocessBehavior]),
    default="none",
    show_default=True,
    help="none: skip intervals that have a run; failed: re-run failed ones; completed: re-run all.",
)
@click.option(
    "--max-active-runs",
    type=int,
    default=None,
    help="Most runs of this backfill at once (default: the DAG's).",
)
@click.option("--run-backwards", is_flag=True, help="Newest interval first.")
@click.option("--conf", "-c", default=None, help="JSON object of run configuration for every run.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the intervals and what would happen to each; change nothing.",
)
@click.option(
    "--no-wait", is_flag=True, help="Return once the backfill is stored, without waiting for it."
)
@user_errors
def backfill_command(
    dag_id: str,
    start_date: str,
    end_date: str,
    reprocess_behavior: str,
    max_active_runs: int | None,
    run_backwards: bool,
    conf: str | None,
    dry_run: bool,
    no_wait: bool,
) -> None:
    """Run DAG_ID for every data interval in a past range; the scheduler executes the runs.

    Exit code 0 when every run of the backfill succeeded, 1 otherwise (or on bad input).
    """
    settings = config.load()
    start = common.parse_date(start_date, "--start-date")
    end = common.parse_date(end_date, "--end-date")
    parsed_conf = common.parse_conf(conf)
    behavior = ReprocessBehavior(reprocess_behavior)
    if dry_run:
        planned = db_admin.run(
            settings,
            lambda s: backfill_service.preview(
                s,
                dag_id,
                start=start,
                end=end,
                reprocess=behavior,
                max_active_runs=max_active_runs,
                run_backwards=run_backwards,
                conf=parsed_conf,
                now=timezone.utcnow(),
            ),
            readonly=True,
        )
        for item in planned:
            detail = f" ({item.reason})" if item.reason else ""
            click.echo(
                f"{item.logical_date.isoformat()}  [{item.data_interval_start.isoformat()}, "
                f"{item.data_interval_end.isoformat()})  {item.action}{detail}"
            )
        click.echo(f"{len(planned)} intervals; dry run: nothing was changed")
        return
    info, planned = db_admin.run(
        settings,
        lambda s: backfill_service.create(
            s,
            dag_id,
            start=start,
            end=end,
            reprocess=behavior,
            max_active_runs=max_active_runs,
            run_backwards=run_backwards,
            conf=parsed_conf,
            created_by="cli",
            now=timezone.utcnow(),
        ),
    )
    wakeup.notify(settings.home)
    try:
        created = sum(1 for p in planned if p.action == "create")
        rerun = sum(1 for p in planned if p.action == "rerun")
        skipped = sum(1 for p in planned if p.action == "skip")
        click.echo(
            f"Backfill {info.id} of {dag_id}: {len(planned)} intervals, {created} new runs, "
            f"{rerun} re-runs, {skipped} skipped"
        )
        if no_wait:
            return
        final = _wait(settings, info.id)
    except KeyboardInterrupt:
        click.echo(
            f"\nStopped waiting. Backfill {info.id} goes on in the scheduler: see `tradewind "
            f"backfill list`; `tradewind backfill cancel {info.id}` stops it.",
            err=True,
        )
        sys.exit(130)
    ok = final.failed == 0 and final.state == "completed"
    click.echo(
        f"Backfill {final.id} {final.state}: {final.succeeded} succeeded, {final.failed} failed"
    )
    sys.exit(0 if ok else 1)


@click.group("backfill")
def backfill_group() -> None:
    """List, pause, resume and cancel backfills."""


@backfill_group.command("list")
@click.option("--dag-id", "-d", default=None, help="Only backfills of this DAG.")
@output_option()
@user_errors
def list_command(dag_id: str | None, output: str) -> None:
    """List backfills, newest first."""
    infos = db_admin.run(
        config.load(), lambda s: backfill_service.list_backfills(s, dag_id), readonly=True
    )
    if output == "json":
        click.echo(json.dumps([_row(i) for i in infos], indent=2))
    else:
        echo_rows([_row(i) for i in infos], output)


def _change(backfill_id: int, action: str) -> None:
    settings = config.load()
    if action == "cancel":
        info = db_admin.run(settings, lambda s: backfill_service.cancel(s, backfill_id))
    else:
        info = db_admin.run(
            settings, lambda s: backfill_service.set_paused(s, backfill_id, action == "pause")
        )
    wakeup.notify(settings.home)
    click.echo(f"Backfill {info.id} of {info.dag_id} is {info.state}")


@backfill_group.command("pause")
@click.argument("backfill_id", type=int)
@user_errors
def pause_command(backfill_id: int) -> None:
    """Start no more runs of the backfill until it is resumed."""
    _change(backfill_id, "pause")


@backfill_group.command("resume")
@click.argument("backfill_id", type=int)
@user_errors
def resume_command(backfill_id: int) -> None:
    """Resume a paused backfill."""
    _change(backfill_id, "resume")


@backfill_group.command("cancel")
@click.argument("backfill_id", type=int)
@user_errors
def cancel_command(backfill_id: int) -> None:
    """Stop the backfill: runs not started yet are failed; running tasks finish."""
    _change(backfill_id, "cancel")
