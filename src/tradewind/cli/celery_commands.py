"""``tradewind celery``: remote workers of the celery executor.

Celery is imported only when a worker starts or the broker is asked live (``--help`` and the
stored worker listing work without the celery extra), and the worker never opens the
metastore.
"""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import as_row, echo_rows, output_option, user_errors
from tradewind.exceptions import ConfigError
from tradewind.remote.worker_registry import WorkerAnswer
from tradewind.sdk import timezone
from tradewind.services import db_admin, workers


@click.group("celery")
def celery_group() -> None:
    """Run remote workers of the celery executor."""


@celery_group.command("worker")
@click.option(
    "--queues",
    "-q",
    default=None,
    help="Comma-separated queues to take tries from (default [celery] default_queue).",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=None,
    help="Tries run at once (default [celery] worker_concurrency).",
)
@click.option("--hostname", "-H", default=None, help="Celery node name (default celery@host).")
@user_errors
def worker_command(queues: str | None, concurrency: int | None, hostname: str | None) -> None:
    """Take tries from the broker and run them, talking only to the execution API."""
    settings = config.load()
    try:
        from tradewind.remote import celery_worker
    except ImportError as exc:
        raise _without_extra("worker", exc) from exc
    celery_worker.run(
        settings,
        queues=celery_worker.worker_queues(settings, queues),
        concurrency=concurrency or int(settings.get("celery", "worker_concurrency")),
        hostname=hostname,
    )


@celery_group.command("list-workers")
@click.option(
    "--inspect",
    is_flag=True,
    help="Also ask the workers on [celery] broker_url now (waits about two seconds).",
)
@output_option()
@user_errors
def list_workers_command(inspect: bool, output: str) -> None:
    """List the workers seen within [celery] worker_seen_window: their queues, concurrency,
    running tries, last heartbeat, and whether they still answer (online) or not (lost)."""
    settings = config.load()
    live: list[WorkerAnswer] = []
    if inspect:
        try:
            from tradewind.remote import celery_app, worker_inspector
        except ImportError as exc:
            raise _without_extra("list-workers --inspect", exc) from exc
        app = celery_app.create_app(str(settings.get("celery", "broker_url")))
        try:
            live = worker_inspector.ask_workers(app)
        finally:
            app.close()
    window = workers.WorkerWindow.from_settings(settings)
    found = db_admin.run(
        settings,
        lambda s: workers.list_workers(s, now=timezone.utcnow(), window=window, live=live),
        readonly=True,
    )
    echo_rows([as_row(info) for info in found], output, columns=workers.FIELDS)


def _without_extra(command: str, exc: ImportError) -> ConfigError:
    return ConfigError(
        f"tradewind celery {command} needs the celery extra (pip install 'tradewind[celery]'): "
        f"{exc}"
    )
