"""``tradewind connections``: add, get, delete and list connections (Airflow's CLI)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from tradewind import config
from tradewind.cli.output import as_row, echo_rows, output_option, user_errors
from tradewind.exceptions import InvalidArgument
from tradewind.services import connections, db_admin
from tradewind.services.secrets import SecretCipher

#: click parameter name -> flag, for the fields that --conn-uri and --conn-json exclude.
_FIELD_FLAGS = {
    "conn_type": "--conn-type",
    "conn_host": "--conn-host",
    "conn_login": "--conn-login",
    "conn_password": "--conn-password",
    "conn_schema": "--conn-schema",
    "conn_port": "--conn-port",
}


@click.group("connections")
def connections_group() -> None:
    """Manage connections."""


@connections_group.command("add")
@click.argument("conn_id")
@click.option(
    "--conn-uri", help="Connection URI, e.g. postgres://user:pw@host:5432/db?sslmode=require."
)
@click.option("--conn-json", help='Connection as JSON, e.g. {"conn_type": "http", "host": "..."}.')
@click.option("--conn-type", help="Connection type (required unless --conn-uri or --conn-json).")
@click.option("--conn-description", help="What the connection is for.")
@click.option("--conn-host")
@click.option("--conn-login")
@click.option("--conn-password")
@click.option("--conn-schema")
@click.option("--conn-port")
@click.option("--conn-extra", help="Extra as a JSON object.")
@user_errors
def add_command(
    conn_id: str,
    conn_uri: str | None,
    conn_json: str | None,
    conn_description: str | None,
    conn_extra: str | None,
    **fields: str | None,
) -> None:
    """Add connection CONN_ID, from a URI, from JSON, or from --conn-* fields."""
    conn = _connection_from_args(conn_id, conn_uri, conn_json, conn_description, conn_extra, fields)
    settings = config.load()
    cipher = SecretCipher.from_settings(settings)
    db_admin.run(settings, lambda s: connections.add_connection(s, conn, cipher=cipher))
    click.echo(f"Successfully added `conn_id`={conn_id} : {conn.masked().get_uri()}")


@connections_group.command("get")
@click.argument("conn_id")
@click.option("--show-secrets", is_flag=True, help="Show the password and secret extra fields.")
@output_option()
@user_errors
def get_command(conn_id: str, show_secrets: bool, output: str) -> None:
    """Show connection CONN_ID (password masked unless --show-secrets)."""
    settings = config.load()
    cipher = SecretCipher.from_settings(settings)
    conn = db_admin.run(
        settings, lambda s: connections.get_connection(s, conn_id, cipher=cipher), readonly=True
    )
    shown = conn if show_secrets else conn.masked()
    row: dict[str, Any] = {
        **shown.to_dict(),
        "extra_dejson": shown.extra_dejson,
        "get_uri": shown.get_uri(),
    }
    del row["extra"]
    echo_rows([row], output)


@connections_group.command("delete")
@click.argument("conn_id")
@user_errors
def delete_command(conn_id: str) -> None:
    """Delete connection CONN_ID."""
    db_admin.run(config.load(), lambda s: connections.delete_connection(s, conn_id))
    click.echo(f"Successfully deleted connection with `conn_id`={conn_id}")


@connections_group.command("list")
@click.option("--conn-id", default=None, help="Only this connection.")
@output_option()
@user_errors
def list_command(conn_id: str | None, output: str) -> None:
    """List connections (never passwords or extras)."""
    infos = db_admin.run(config.load(), connections.list_connections, readonly=True)
    rows = [as_row(i) for i in infos if conn_id is None or i.conn_id == conn_id]
    echo_rows(
        rows,
        output,
        columns=["conn_id", "conn_type", "description", "host", "schema", "login", "port"],
    )


def _connection_from_args(
    conn_id: str,
    uri: str | None,
    as_json: str | None,
    description: str | None,
    extra: str | None,
    fields: dict[str, str | None],
) -> connections.Connection:
    """Airflow's rules: a URI, or JSON, or --conn-type plus fields; never a mix."""
    given = [_FIELD_FLAGS[name] for name, value in fields.items() if value is not None]
    if uri and as_json:
        raise InvalidArgument("give either --conn-uri or --conn-json, not both")
    if uri:
        if given:
            raise InvalidArgument(f"not compatible with --conn-uri: {', '.join(given)}")
        conn = connections.Connection.from_uri(conn_id, uri, description=description)
        if extra is not None:
            conn = dataclasses.replace(conn, extra=connections.parse_extra(extra))
        return conn
    if as_json:
        if given or extra is not None or description is not None:
            raise InvalidArgument(
                f"not compatible with --conn-json: {', '.join(given + _flags(extra, description))}"
            )
        return connections.Connection.from_json(conn_id, as_json)
    if not fields.get("conn_type"):
        raise InvalidArgument(
            "give --conn-uri or --conn-json, or --conn-type with the other --conn-* fields"
        )
    return connections.Connection(
        conn_id=conn_id,
        conn_type=str(fields["conn_type"]),
        host=fields.get("conn_host"),
        schema=fields.get("conn_schema"),
        login=fields.get("conn_login"),
        password=fields.get("conn_password"),
        port=connections.parse_port(fields.get("conn_port")),
        extra=connections.parse_extra(extra),
        description=description,
    )


def _flags(extra: str | None, description: str | None) -> list[str]:
    return (["--conn-extra"] if extra is not None else []) + (
        ["--conn-description"] if description is not None else []
    )
