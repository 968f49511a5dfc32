"""Options and helpers shared by several command groups.

Light on purpose: every command module imports this one, so nothing here may pull in DAG
loading, the runner or the metastore (those are in ``dag_loading``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tradewind import config
from tradewind.sdk import timezone

F = TypeVar("F", bound=Callable[..., Any])

#: Exit code when the DAG (or its input) could not be loaded.
EXIT_LOAD_ERROR = 2


def dags_folder_option(function: F) -> F:
    return click.option(
        "--dags-folder",
        "-S",
        "--subdir",
        "dags_folder",
        type=click.Path(path_type=Path),
        default=None,
        help=(
            "Folder (or file) of DAG files. "
            "Default: $TRADEWIND__CORE__DAGS_FOLDER or $TRADEWIND_HOME/dags."
        ),
    )(function)


def resolve_dags_folder(option: Path | None) -> Path:
    return (option or config.load().dags_folder).expanduser().resolve()


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def parse_conf(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        fail(f"--conf is not valid JSON: {exc}", EXIT_LOAD_ERROR)
    if not isinstance(value, dict):
        fail(f"--conf must be a JSON object, got {type(value).__name__}", EXIT_LOAD_ERROR)
    return value


def parse_date(raw: str | None, name: str = "LOGICAL_DATE") -> Any:
    if raw is None:
        return None
    try:
        return timezone.parse(raw)
    except ValueError as exc:
        fail(f"{name}: {exc}", EXIT_LOAD_ERROR)
