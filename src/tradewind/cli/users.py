"""``tradewind users``: create, list, delete users and reset passwords (Airflow's CLI)."""

from __future__ import annotations

import click

from tradewind import config
from tradewind.cli.output import as_row, echo_rows, output_option, user_errors
from tradewind.db.models import BUILTIN_ROLES
from tradewind.exceptions import InvalidArgument
from tradewind.services import db_admin, users

_COLUMNS = ["id", "username", "email", "first_name", "last_name", "role", "active"]


@click.group("users")
def users_group() -> None:
    """Manage users of the web UI and REST API."""


def _password(password: str | None, use_random_password: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated."""
    if password is not None and use_random_password:
        raise InvalidArgument("give either --password or --use-random-password, not both")
    if use_random_password:
        return users.generate_password(), True
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password, False


@users_group.command("create")
@click.option("--username", "-u", required=True, help="Login name.")
@click.option(
    "--role",
    "-r",
    required=True,
    type=click.Choice(BUILTIN_ROLES, case_sensitive=False),
    help="Admin, Op, User or Viewer.",
)
@click.option("--password", "-p", default=None, help="Password (asked for when not given).")
@click.option("--use-random-password", is_flag=True, help="Generate a password and print it.")
@click.option("--email", "-e", default=None, help="Email address.")
@click.option("--firstname", "-f", default=None, help="First name.")
@click.option("--lastname", "-l", default=None, help="Last name.")
@user_errors
def create_command(
    username: str,
    role: str,
    password: str | None,
    use_random_password: bool,
    email: str | None,
    firstname: str | None,
    lastname: str | None,
) -> None:
    """Create a user with a role."""
    secret, generated = _password(password, use_random_password)
    info = db_admin.run(
        config.load(),
        lambda s: users.create_user(
            s,
            username=username,
            password=secret,
            role=role,
            email=email,
            first_name=firstname,
            last_name=lastname,
        ),
    )
    click.echo(f"User {info.username} created with role {info.role}")
    if generated:
        click.echo(f"Password: {secret}")


@users_group.command("list")
@output_option()
@user_errors
def list_command(output: str) -> None:
    """List users (never their passwords)."""
    infos = db_admin.run(config.load(), users.list_users, readonly=True)
    echo_rows([as_row(info) for info in infos], output, columns=_COLUMNS)


@users_group.command("delete")
@click.option("--username", "-u", required=True, help="Login name of the user to delete.")
@user_errors
def delete_command(username: str) -> None:
    """Delete a user."""
    db_admin.run(config.load(), lambda s: users.delete_user(s, username))
    click.echo(f"User {username} deleted")


@users_group.command("reset-password")
@click.option("--username", "-u", required=True, help="Login name.")
@click.option("--password", "-p", default=None, help="New password (asked for when not given).")
@click.option("--use-random-password", is_flag=True, help="Generate a password and print it.")
@user_errors
def reset_password_command(username: str, password: str | None, use_random_password: bool) -> None:
    """Set a new password for a user."""
    secret, generated = _password(password, use_random_password)
    db_admin.run(config.load(), lambda s: users.reset_password(s, username, secret))
    click.echo(f"Password of user {username} reset")
    if generated:
        click.echo(f"Password: {secret}")
