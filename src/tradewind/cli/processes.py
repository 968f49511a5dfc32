"""Long-running processes: ``scheduler`` and ``dag-processor`` (``standalone`` runs both, with
the API server: ``cli/standalone.py``)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

import click

from tradewind import config
from tradewind.cli import lifecycle
from tradewind.cli.output import user_errors
from tradewind.config import Settings
from tradewind.dag_processing.manager import DagProcessor
from tradewind.executors import registry as executors
from tradewind.runner.parent_death import die_with_parent
from tradewind.scheduler.job import SchedulerJob, SchedulerPhase
from tradewind.services import db_admin
from tradewind.services.task_requests import TaskRequestHandler

log = logging.getLogger("tradewind")


def check_executor(settings: Settings) -> None:
    """``ConfigError`` unless ``[core] executor`` names an executor there is."""
    executors.executor_name(settings.get("core", "executor"))


def scan_once(settings: Settings) -> None:
    """One scan of the DAG folder into the metastore, and a line that sums it up."""
    engine = db_admin.open_engine(settings)
    try:
        summary = DagProcessor(settings, engine).run_once()
    finally:
        engine.dispose()
    log.info(
        "DAG folder %s: %d DAGs, %d files with import errors",
        settings.dags_folder,
        summary.dags_seen,
        summary.import_errors,
    )


def run_scheduler(settings: Settings) -> None:
    executor = executors.create_executor(settings)
    engine = db_admin.open_engine(settings)
    job = SchedulerJob(settings, engine, executor, request_handler=TaskRequestHandler)

    def on_signal(signum: int, frame: Any) -> None:
        again = job.phase not in (SchedulerPhase.STARTING, SchedulerPhase.RUNNING)
        log.info(
            "Received %s: %s",
            signal.Signals(signum).name,
            "stopping now" if again else "stopping (again to stop at once)",
        )
        job.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        job.run()
    finally:
        engine.dispose()


def _processor_main(settings: Settings) -> None:
    """Entry of the DAG processor child of ``standalone``."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    lifecycle.setup_logging()
    lifecycle.apply_log_level(settings)
    engine = db_admin.open_engine(settings)
    try:
        DagProcessor(settings, engine).run_forever(stop)
    finally:
        engine.dispose()


def processor_child(settings: Settings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the processor installs its own
    die_with_parent()
    _processor_main(settings)


@click.command("scheduler")
@user_errors
@lifecycle.stopped_during_startup
def scheduler_command() -> None:
    """Run the scheduler with the local executor until interrupted."""
    lifecycle.setup_logging()
    settings = config.load()
    lifecycle.apply_log_level(settings)
    run_scheduler(settings)


@click.command("dag-processor")
@user_errors
@lifecycle.stopped_during_startup
def dag_processor_command() -> None:
    """Keep the metastore in step with the DAG folder until interrupted."""
    lifecycle.setup_logging()
    _processor_main(config.load())
