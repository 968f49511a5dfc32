"""``tradewind api-server``: the REST API and web UI."""

from __future__ import annotations

from collections.abc import Callable

import click

from tradewind import config
from tradewind.cli.output import user_errors
from tradewind.config import Settings

#: Seconds a SIGTERM waits for requests under way before it cancels them: a stop must not
#: depend on how many clients are waiting for an answer.
GRACEFUL_SHUTDOWN_SECONDS = 10


def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    metastore_ready: Callable[[], bool] | None = None,
) -> None:
    """Run the ASGI app with uvicorn until interrupted.

    ``metastore_ready``, when given, is called once the web stack is imported and before the
    app opens the metastore; it blocks until the metastore may be used, and False ends the
    call without serving (``standalone`` imports the stack while it migrates).
    """
    # Imported here: FastAPI and uvicorn cost a third of a second, which other commands skip.
    import uvicorn

    from tradewind.api.app import create_app

    if metastore_ready is not None and not metastore_ready():
        return
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


@click.command("api-server")
@click.option(
    "--host", "-H", default=None, help="Address to listen on (default [api] host, 0.0.0.0)."
)
@click.option("--port", "-p", type=int, default=None, help="Port (default [api] port, 8080).")
@user_errors
def api_server_command(host: str | None, port: int | None) -> None:
    """Serve the REST API (/api/v2) and the web UI."""
    settings = config.load()
    serve(
        settings, host or str(settings.get("api", "host")), port or int(settings.get("api", "port"))
    )
