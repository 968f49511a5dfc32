"""``tradewind celery worker``: a Celery worker whose every message is one try.

Celery takes messages (thread pool: each message's thread starts its try, heartbeats it and
ships its log, while the one ``TryHost`` thread runs the local executor) and acknowledges a
message only when ``remote_try.handle`` returned. A worker needs the broker and the execution
API only: it never opens the metastore nor reads a DAG folder.

SIGTERM (Celery's warm shutdown): no more messages are taken; running tries may finish for
``[celery] worker_shutdown_grace`` seconds, then they are terminated (reported failed or
died, and retried by the scheduler per ``retries``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import celery
import httpx2
from celery import signals
from celery.exceptions import Reject
from celery.utils.nodenames import default_nodename, host_format

from tradewind.config import Settings
from tradewind.remote import celery_app, remote_try
from tradewind.remote.try_host import TryHost

log = logging.getLogger("tradewind.remote")


def worker_queues(settings: Settings, queues: str | None) -> list[str]:
    """The broker queues to take tries from: ``--queues`` (comma-separated; ``default`` is
    ``[celery] default_queue``), else ``[celery] default_queue``."""
    default_queue = str(settings.get("celery", "default_queue"))
    names = [name.strip() for name in (queues or "").split(",") if name.strip()]
    return [celery_app.broker_queue(name, default_queue) for name in names] or [default_queue]


def node_name(hostname: str | None) -> str:
    """The worker's Celery node name (``name@host``, as Celery derives it from
    ``--hostname``); its tries record it as their hostname."""
    return host_format(default_nodename(hostname))


def run(
    settings: Settings,
    *,
    queues: Sequence[str],
    concurrency: int,
    hostname: str | None = None,
) -> None:
    """Take and run tries until stopped (SIGTERM, SIGINT)."""
    # Each try makes several calls to the execution API; one INFO line per call drowns the
    # tries' own lines (failures are still logged, by ``remote_try``).
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    app = celery_app.create_app(str(settings.get("celery", "broker_url")))
    app.conf.task_queues = [celery_app.queue(name) for name in queues]
    app.conf.task_default_queue = queues[0]
    host = TryHost(concurrency)
    http = httpx2.Client(timeout=60.0)
    context = remote_try.WorkerContext(
        host=host,
        http=http,
        work_dir=settings.home / "worker",
        heartbeat_interval=float(settings.get("scheduler", "task_heartbeat_interval")),
        hostname=node_name(hostname),
    )
    _register_task(app, context)
    grace = float(settings.get("celery", "worker_shutdown_grace"))
    _on_shutdown(host, grace)
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={concurrency}",
        f"--queues={','.join(queues)}",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if hostname:
        argv.append(f"--hostname={hostname}")
    host.start()
    try:
        app.worker_main(argv)
    finally:
        host.stop()
        http.close()


def _register_task(app: celery.Celery, context: remote_try.WorkerContext) -> None:
    @app.task(name=celery_app.TASK_NAME, bind=True, acks_late=True)
    def run_try(task: Any, body: object) -> str:
        try:
            return remote_try.handle(body, context)
        except remote_try.Redeliver as exc:
            log.warning("Giving the message back to the broker: %s", exc)
            raise Reject(str(exc), requeue=True) from exc


def _on_shutdown(host: TryHost, grace: float) -> None:
    """When Celery begins its warm shutdown, terminate the tries left after ``grace``."""

    def shutting_down(**_: Any) -> None:
        log.info("Stopping: running tries may finish for %.0f s", grace)
        timer = threading.Timer(grace, host.terminate_all)
        timer.daemon = True
        timer.start()

    signals.worker_shutting_down.connect(shutting_down, weak=False)
