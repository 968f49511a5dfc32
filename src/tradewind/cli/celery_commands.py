"""``tradewind celery``: remote workers of the celery executor.

Celery is imported only when a worker starts (``--help`` works without the celery extra), and
the worker never opens the metastore.
"""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import user_errors
from tradewind.exceptions import ConfigError


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
        raise ConfigError(
            f"tradewind celery worker needs the celery extra (pip install 'tradewind[celery]'): "
            f"{exc}"
        ) from exc
    celery_worker.run(
        settings,
        queues=celery_worker.worker_queues(settings, queues),
        concurrency=concurrency or int(settings.get("celery", "worker_concurrency")),
        hostname=hostname,
    )
