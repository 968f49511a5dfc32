"""Which command groups the ``tradewind`` command has.

Each entry names a module in ``tradewind.cli`` and the click command or group in it. Add a line
here when adding a command module.
"""

from __future__ import annotations

import importlib

import click

COMMANDS: list[tuple[str, str]] = [
    # (module, attribute)
    ("db", "db_group"),
    ("variables", "variables_group"),
    ("connections", "connections_group"),
    ("pools", "pools_group"),
    ("dags", "dags_group"),
    ("tasks", "tasks_group"),
    ("dag_admin", "dags_group"),
    ("dag_parsing", "dags_group"),
    ("processes", "scheduler_command"),
    ("processes", "dag_processor_command"),
    ("processes", "standalone_command"),
    ("api_server", "api_server_command"),
    ("users", "users_group"),
    ("clear", "dags_group"),
    ("backfill", "dags_group"),
    ("backfill", "backfill_group"),
    ("task_admin", "tasks_group"),
]


def register_all(group: click.Group) -> None:
    for module_name, attribute in COMMANDS:
        module = importlib.import_module(f"tradewind.cli.{module_name}")
        group.add_command(getattr(module, attribute))
