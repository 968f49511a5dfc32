"""``tradewind db``: create, check, reset and downgrade the metadata database."""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import user_errors
from tradewind.services import db_admin


@click.group("db")
def db_group() -> None:
    """Manage the metadata database."""


@db_group.command("migrate")
@user_errors
def migrate_command() -> None:
    """Create the database or upgrade it to the latest schema (safe to repeat)."""
    status = db_admin.migrate(config.load())
    click.echo(f"Database {status.url} is at revision {status.current} (latest).")


@db_group.command("check")
@user_errors
def check_command() -> None:
    """Exit 0 when the database is reachable and at the latest schema, 1 otherwise."""
    status = db_admin.check(config.load())
    click.echo(f"Database {status.url} is reachable and at revision {status.current} (latest).")


@db_group.command("reset")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@user_errors
def reset_command(yes: bool) -> None:
    """Drop every table, then create the schema again. All data is lost."""
    settings = config.load()
    if not yes:
        click.confirm(
            f"This drops every table of {db_admin.describe(settings)}, losing all data. Proceed?",
            abort=True,
        )
    status = db_admin.reset(settings)
    click.echo(f"Database {status.url} was reset to revision {status.current}.")


@db_group.command("downgrade")
@click.option(
    "-r", "--to-revision", "revision", required=True, help="Target revision, or 'base' for none."
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@user_errors
def downgrade_command(revision: str, yes: bool) -> None:
    """Downgrade the schema to an older revision; data in removed tables is lost."""
    settings = config.load()
    if not yes:
        click.confirm(
            f"Downgrade {db_admin.describe(settings)} to {revision}? Data may be lost. Proceed?",
            abort=True,
        )
    status = db_admin.downgrade(settings, revision)
    click.echo(f"Database {status.url} is at revision {status.current or 'base'}.")
