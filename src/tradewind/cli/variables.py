"""``tradewind variables``: get, set, delete, list, import and export variables (Airflow's CLI)."""

from __future__ import annotations

import json
from typing import IO

import click

from tradewind import config
from tradewind.cli.output import as_row, echo_rows, output_option, user_errors
from tradewind.exceptions import InvalidArgument
from tradewind.services import db_admin, variables
from tradewind.services.secrets import SecretCipher


@click.group("variables")
def variables_group() -> None:
    """Manage variables."""


@variables_group.command("get")
@click.argument("key")
@click.option(
    "-j", "--json", "as_json", is_flag=True, help="Parse the value as JSON and print it indented."
)
@click.option(
    "-d", "--default", default=None, help="Print this instead of failing when KEY does not exist."
)
@user_errors
def get_command(key: str, as_json: bool, default: str | None) -> None:
    """Print the value of variable KEY."""
    settings = config.load()
    cipher = SecretCipher.from_settings(settings)
    fallback = variables.MISSING if default is None else default
    value = db_admin.run(
        settings,
        lambda s: variables.get_variable(
            s, key, cipher=cipher, default=fallback, deserialize_json=as_json
        ),
        readonly=True,
    )
    if as_json and value is not fallback:
        click.echo(json.dumps(value, indent=2, ensure_ascii=False))
    else:
        click.echo(value)


@variables_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--description", default=None, help="What the variable is for.")
@click.option(
    "-j", "--json", "as_json", is_flag=True, help="VALUE is JSON: check it and store it as JSON."
)
@user_errors
def set_command(key: str, value: str, description: str | None, as_json: bool) -> None:
    """Set variable KEY to VALUE."""
    settings = config.load()
    cipher = SecretCipher.from_settings(settings)
    parsed: object = value
    if as_json:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InvalidArgument(f"VALUE is not valid JSON: {exc}") from exc
    db_admin.run(
        settings,
        lambda s: variables.set_variable(
            s, key, parsed, cipher=cipher, description=description, serialize_json=as_json
        ),
    )
    click.echo(f"Variable {key} created")


@variables_group.command("delete")
@click.argument("key")
@user_errors
def delete_command(key: str) -> None:
    """Delete variable KEY."""
    db_admin.run(config.load(), lambda s: variables.delete_variable(s, key))
    click.echo(f"Variable {key} deleted")


@variables_group.command("list")
@output_option()
@user_errors
def list_command(output: str) -> None:
    """List variables (keys and descriptions, never values)."""
    infos = db_admin.run(config.load(), variables.list_variables, readonly=True)
    echo_rows([as_row(i) for i in infos], output, columns=["key", "description", "is_encrypted"])


@variables_group.command("import")
@click.argument("file", type=click.File("r"))
@click.option(
    "-a",
    "--action-on-existing-key",
    type=click.Choice([p.value for p in variables.OnExisting]),
    default=variables.OnExisting.OVERWRITE.value,
    show_default=True,
    help="What to do when a variable already exists.",
)
@user_errors
def import_command(file: IO[str], action_on_existing_key: str) -> None:
    """Import variables from a JSON file ({"key": value, ...}; '-' reads stdin)."""
    data = variables.parse_import(file.read(), source=file.name)
    settings = config.load()
    cipher = SecretCipher.from_settings(settings)
    result = db_admin.run(
        settings,
        lambda s: variables.import_variables(
            s, data, cipher=cipher, on_existing=action_on_existing_key
        ),
    )
    click.echo(f"{len(result.written)} of {len(data)} variables successfully updated.")
    if result.skipped:
        click.echo(f"{len(result.skipped)} variable(s) skipped: {', '.join(result.skipped)}")


@variables_group.command("export")
@click.argument("file", type=click.File("w"))
@user_errors
def export_command(file: IO[str]) -> None:
    """Export every variable, decrypted, to a JSON file ('-' writes stdout)."""
    settings = config.load()
    cipher = SecretCipher.from_settings(settings)
    data = db_admin.run(
        settings, lambda s: variables.export_variables(s, cipher=cipher), readonly=True
    )
    file.write(json.dumps(data, indent=4, ensure_ascii=False) + "\n")
    if file.name != "<stdout>":
        click.echo(f"{len(data)} variables successfully exported to {file.name}")
