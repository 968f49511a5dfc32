"""``tradewind api-server``: the REST API and web UI."""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import user_errors


@click.command("api-server")
@click.option("--host", "-H", default=None, help="Address to listen on (default [api] host, 0.0.0.0).")
@click.option("--port", "-p", type=int, default=None, help="Port (default [api] port, 8080).")
@user_errors
def api_server_command(host: str | None, port: int | None) -> None:
    """Serve the REST API (/api/v2) and the web UI."""
    import uvicorn

    from tradewind.api.app import create_app

    settings = config.load()
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.get("api", "host"), port=port or int(settings.get("api", "port")),
                log_level="info", access_log=False)
