"""``tradewind api-server``: the REST API and web UI."""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import user_errors
from tradewind.config import Settings

#: Seconds a SIGTERM waits for requests under way before it cancels them: a stop must not
#: depend on how many clients are waiting for an answer.
GRACEFUL_SHUTDOWN_SECONDS = 10


def serve(settings: Settings, host: str, port: int, *, log_level: str = "info") -> None:
    """Run the ASGI app with uvicorn until interrupted."""
    # Imported here: FastAPI and uvicorn cost a third of a second, which other commands skip.
    import uvicorn

    from tradewind.api.app import create_app

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
