"""Long-running processes: ``scheduler``, ``dag-processor`` and ``standalone`` (all in one)."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import signal
import socket
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import click

from tradewind import config
from tradewind.cli import api_server
from tradewind.cli.output import user_errors
from tradewind.config import Settings
from tradewind.dag_processing.manager import DagProcessor
from tradewind.exceptions import ConfigError
from tradewind.executors import registry as executors
from tradewind.runner.parent_death import die_with_parent
from tradewind.scheduler.job import SchedulerJob, SchedulerPhase
from tradewind.services import db_admin, standalone_setup
from tradewind.services.task_requests import TaskRequestHandler

log = logging.getLogger("tradewind")


class StopDuringStartup(BaseException):
    """SIGINT or SIGTERM arrived before the long-running loop took over its signals.

    A ``BaseException`` like ``KeyboardInterrupt``, so no ``except Exception`` on the way swallows
    it; unlike ``KeyboardInterrupt`` it also fires when the process inherited SIGINT ignored (a
    command started in the background of a script), where Python installs no handler at all."""


def _stop_during_startup(signum: int, frame: Any) -> None:
    raise StopDuringStartup(signal.Signals(signum).name)


def _catch_stop_during_startup() -> None:
    """From the first instant, a stop request ends start-up instead of being lost or printing a
    traceback; the scheduler and the DAG processor replace these handlers with their own."""
    signal.signal(signal.SIGINT, _stop_during_startup)
    signal.signal(signal.SIGTERM, _stop_during_startup)


def _stopped_during_startup(command: Callable[[], None]) -> Callable[[], None]:
    @functools.wraps(command)
    def run() -> None:
        _catch_stop_during_startup()
        try:
            command()
        except StopDuringStartup as stop:
            log.info("Received %s during start-up: stopped", stop.args[0])

    return run


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s - %(message)s"))
    root = logging.getLogger("tradewind")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False


def _apply_log_level(settings: Settings) -> None:
    """``[logging] logging_level`` on Tradewind's own log (not on the libraries it uses)."""
    logging.getLogger("tradewind").setLevel(settings.get("logging", "logging_level"))


def _run_scheduler(settings: Settings) -> None:
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
    _setup_logging()
    _apply_log_level(settings)
    engine = db_admin.open_engine(settings)
    try:
        DagProcessor(settings, engine).run_forever(stop)
    finally:
        engine.dispose()


def _processor_child(settings: Settings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the processor installs its own
    die_with_parent()
    _processor_main(settings)


def _api_address(settings: Settings) -> tuple[str, int]:
    return str(settings.get("api", "host")), int(settings.get("api", "port"))


def _check_port_free(host: str, port: int) -> None:
    """Fail before starting anything when the API port is taken, with what to do about it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} for the API server ({exc.strerror}); "
                "stop the other server or set TRADEWIND__API__PORT"
            ) from None


def _api_child(settings: Settings, metastore_ready: Connection) -> None:
    """Entry of the API/UI server child of ``standalone``: started first, it imports the web
    stack while the parent migrates, then serves once the parent says the metastore is
    ready (nothing comes when the parent's set-up failed: then it ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the server installs its own
    die_with_parent()
    host, port = _api_address(settings)

    def wait_for_parent() -> bool:
        try:
            return bool(metastore_ready.recv())
        except EOFError:
            return False
        finally:
            metastore_ready.close()

    api_server.serve(settings, host, port, log_level="warning", metastore_ready=wait_for_parent)


@click.command("scheduler")
@user_errors
@_stopped_during_startup
def scheduler_command() -> None:
    """Run the scheduler with the local executor until interrupted."""
    _setup_logging()
    settings = config.load()
    _apply_log_level(settings)
    _run_scheduler(settings)


@click.command("dag-processor")
@user_errors
@_stopped_during_startup
def dag_processor_command() -> None:
    """Keep the metastore in step with the DAG folder until interrupted."""
    _setup_logging()
    _processor_main(config.load())


@click.command("standalone")
@user_errors
@_stopped_during_startup
def standalone_command() -> None:
    """Migrate the metastore, create an admin user, then run the DAG processor, the scheduler
    (with the local executor) and the API/UI server together. Ctrl-C stops everything."""
    _setup_logging()
    settings = standalone_setup.standalone_settings(config.load())
    _apply_log_level(settings)
    executors.executor_name(settings.get("core", "executor"))  # refused before anything starts
    host, port = _api_address(settings)
    _check_port_free(host, port)
    context = multiprocessing.get_context("fork")
    # The API server starts first: importing the web stack takes as long as the set-up below,
    # so both go on at once, and it serves as soon as the metastore is ready.
    ready_receiver, ready_sender = context.Pipe(duplex=False)
    children = [
        context.Process(
            target=_api_child, args=(settings, ready_receiver), name="tradewind-api-server"
        )
    ]
    children[0].start()
    ready_receiver.close()
    try:
        standalone_setup.migrate(settings)
        ready_sender.send(True)
        ready_sender.close()
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
        # Hashing the admin's password takes a good part of a second: the DAG processor
        # starts first.
        processor = context.Process(
            target=_processor_child, args=(settings,), name="tradewind-dag-processor"
        )
        children.append(processor)
        processor.start()
        setup = standalone_setup.ensure_admin(settings)
        if setup.new_password is not None:
            click.echo(f"Created user 'admin' with password: {setup.new_password}", err=True)
            click.echo(f"(also saved in {setup.password_file})", err=True)
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        click.echo(
            f"Tradewind is running: web UI and API at http://{shown}:{port} (user admin). "
            "Ctrl-C stops it.",
            err=True,
        )
        _run_scheduler(settings)
    finally:
        ready_sender.close()
        for child in children:
            if child.is_alive():
                child.terminate()
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
                child.join()
        log.info("Tradewind stopped")
