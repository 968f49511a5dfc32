"""``tradewind pools``: set, get, delete and list pools (Airflow's CLI)."""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import as_row, echo_rows, output_option, user_errors
from tradewind.services import db_admin, pools

_COLUMNS = ["pool", "slots", "description", "include_deferred"]


@click.group("pools")
def pools_group() -> None:
    """Manage pools."""


@pools_group.command("set")
@click.argument("name")
@click.argument("slots")
@click.argument("description")
@click.option("--include-deferred", is_flag=True, help="Deferred task instances take slots too.")
@user_errors
def set_command(name: str, slots: str, description: str, include_deferred: bool) -> None:
    """Create pool NAME with SLOTS slots (-1: unlimited), or update it."""
    count = pools.parse_slots(slots)
    db_admin.run(
        config.load(),
        lambda s: pools.set_pool(s, name, count, description, include_deferred=include_deferred),
    )
    click.echo(f"Pool {name} created")


@pools_group.command("get")
@click.argument("name")
@output_option()
@user_errors
def get_command(name: str, output: str) -> None:
    """Show pool NAME."""
    info = db_admin.run(config.load(), lambda s: pools.get_pool(s, name), readonly=True)
    echo_rows([as_row(info)], output, columns=_COLUMNS)


@pools_group.command("delete")
@click.argument("name")
@user_errors
def delete_command(name: str) -> None:
    """Delete pool NAME (default_pool cannot be deleted)."""
    db_admin.run(config.load(), lambda s: pools.delete_pool(s, name))
    click.echo(f"Pool {name} deleted")


@pools_group.command("list")
@output_option()
@user_errors
def list_command(output: str) -> None:
    """List pools."""
    infos = db_admin.run(config.load(), pools.list_pools, readonly=True)
    echo_rows([as_row(i) for i in infos], output, columns=_COLUMNS)
