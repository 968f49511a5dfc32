"""``tradewind standalone``: the DAG processor, the scheduler and the API/UI server together.

The API server's process is started first, before this one imports the scheduler: importing
the web stack (FastAPI builds every route's validation at import) takes as long as the
scheduler's imports, the migration and the first parse together, so the two go on at once
and the server answers as soon as the metastore is ready.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
from multiprocessing.connection import Connection

import click

from tradewind import config
from tradewind.cli import api_server, lifecycle
from tradewind.cli.output import user_errors
from tradewind.config import Settings
from tradewind.exceptions import ConfigError
from tradewind.runner.parent_death import die_with_parent
from tradewind.services import standalone_setup

log = logging.getLogger("tradewind")


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


def _api_child(settings: Settings, metastore_ready: Connection, parent_end: Connection) -> None:
    """Entry of the API/UI server child of ``standalone``: started first, it imports the web
    stack while the parent migrates, then serves once the parent says the metastore is
    ready (nothing comes when the parent's set-up failed: then it ends)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # until the server installs its own
    die_with_parent()
    parent_end.close()  # the parent's end, copied by the fork: EOF must mean the parent's
    host, port = _api_address(settings)

    def wait_for_parent() -> bool:
        try:
            return bool(metastore_ready.recv())
        except EOFError:
            return False
        finally:
            metastore_ready.close()

    api_server.serve(settings, host, port, log_level="warning", metastore_ready=wait_for_parent)


@click.command("standalone")
@user_errors
@lifecycle.stopped_during_startup
def standalone_command() -> None:
    """Migrate the metastore, create an admin user, then run the DAG processor, the scheduler
    (with the local executor) and the API/UI server together. Ctrl-C stops everything."""
    lifecycle.setup_logging()
    settings = standalone_setup.standalone_settings(config.load())
    lifecycle.apply_log_level(settings)
    host, port = _api_address(settings)
    _check_port_free(host, port)
    context = multiprocessing.get_context("fork")
    ready_receiver, ready_sender = context.Pipe(duplex=False)
    children = [
        context.Process(
            target=_api_child,
            args=(settings, ready_receiver, ready_sender),
            name="tradewind-api-server",
        )
    ]
    children[0].start()
    ready_receiver.close()
    try:
        # Imported once the API server's process is started (see the module's docstring).
        from tradewind.cli import processes

        processes.check_executor(settings)  # refused before the API server serves
        standalone_setup.migrate(settings)
        # An API server that died starting has said why on stderr; the rest runs on.
        with contextlib.suppress(BrokenPipeError):
            ready_sender.send(True)
        ready_sender.close()
        processes.scan_once(settings)
        # Hashing the admin's password takes a good part of a second: the DAG processor
        # starts first.
        processor = context.Process(
            target=processes.processor_child, args=(settings,), name="tradewind-dag-processor"
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
        processes.run_scheduler(settings)
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
