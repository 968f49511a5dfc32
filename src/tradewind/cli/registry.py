"""Which commands the ``tradewind`` command has, and where each lives.

Command modules are imported only when their command runs: importing all of them (and the
database, API and migration libraries they use) cost half a second on every call. Each entry
names the module and the click command or group in it, its one-line help (what ``tradewind
--help`` lists without importing anything; a test keeps it equal to the command's own), and,
for a group, the other modules that add subcommands to it.

Add an entry here when adding a command module, and the subcommand names when a module adds
commands to another module's group.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import sys
from collections.abc import Mapping
from typing import Any

import click


@dataclasses.dataclass(frozen=True)
class Entry:
    module: str
    attribute: str
    help: str
    #: Subcommands added to this group by other modules: subcommand name -> module.
    extra: Mapping[str, str] = dataclasses.field(default_factory=dict)


COMMANDS: dict[str, Entry] = {
    "airflow": Entry(
        "airflow_check", "airflow_group", "Move DAG files written for Apache Airflow to Tradewind."
    ),
    "api-server": Entry(
        "api_server", "api_server_command", "Serve the REST API (/api/v2) and the web UI."
    ),
    "backfill": Entry("backfill", "backfill_group", "List, pause, resume and cancel backfills."),
    "celery": Entry(
        "celery_commands", "celery_group", "Run remote workers of the celery executor."
    ),
    "connections": Entry("connections", "connections_group", "Manage connections."),
    "dag-processor": Entry(
        "processes",
        "dag_processor_command",
        "Keep the metastore in step with the DAG folder until interrupted.",
    ),
    "dags": Entry(
        "dags",
        "dags_group",
        "Work with DAGs.",
        {
            "backfill": "backfill",
            "clear": "clear",
            "delete": "dag_admin",
            "list-import-errors": "dag_parsing",
            "list-runs": "dag_admin",
            "mark-failed": "clear",
            "mark-success": "clear",
            "next-execution": "dag_admin",
            "pause": "dag_admin",
            "reserialize": "dag_parsing",
            "show": "dag_testing",
            "state": "dag_admin",
            "test": "dag_testing",
            "trigger": "dag_admin",
            "unpause": "dag_admin",
        },
    ),
    "db": Entry("db", "db_group", "Manage the metadata database."),
    "pools": Entry("pools", "pools_group", "Manage pools."),
    "scheduler": Entry(
        "processes",
        "scheduler_command",
        "Run the scheduler with the local executor until interrupted.",
    ),
    "standalone": Entry(
        "standalone",
        "standalone_command",
        "Migrate the metastore, create an admin user, then run the DAG processor, the scheduler "
        "(with the local executor) and the API/UI server together.",
    ),
    "tasks": Entry(
        "tasks",
        "tasks_group",
        "Work with tasks.",
        {
            "clear": "clear",
            "list": "task_testing",
            "logs": "task_admin",
            "mark-failed": "clear",
            "mark-success": "clear",
            "states-for-dag-run": "task_admin",
            "test": "task_testing",
        },
    ),
    "users": Entry("users", "users_group", "Manage users of the web UI and REST API."),
    "variables": Entry("variables", "variables_group", "Manage variables."),
}


def load(name: str, *, every_subcommand: bool = True) -> click.Command | None:
    """The command ``name``, its module imported now; for a group, with every module that adds
    a subcommand to it unless ``every_subcommand`` is False (then each is imported when its
    subcommand is asked for: ``LazySubgroup``)."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    command = getattr(_module(entry.module), entry.attribute)
    if every_subcommand:
        for module in sorted(set(entry.extra.values())):
            _module(module)
    return command


def _module(name: str) -> Any:
    """Import a command module with the cyclic garbage collector paused.

    The import (SQLAlchemy, the models, the services) allocates tens of thousands of objects
    that live until the process ends; collecting while they pile up scanned them again and
    again, a fifth of the import's time. Once imported they are frozen (moved out of the
    collector's generations), so the collections the command itself triggers do not scan
    them either.
    """
    qualified = f"tradewind.cli.{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    enabled = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(qualified)
    finally:
        if enabled:
            gc.freeze()
            gc.enable()


class LazyGroup(click.Group):
    """The top-level group: commands come from ``COMMANDS`` and are imported when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load(cmd_name, every_subcommand=False)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from ``COMMANDS``: nothing is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, click.Command(name, help=COMMANDS[name].help).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


class LazySubgroup(click.Group):
    """A command group some of whose subcommands other modules add (``Entry.extra``): such a
    module is imported when its subcommand is asked for, so ``dags trigger`` does not import
    what ``dags test`` needs. Invoked on its own (tests, ``CliRunner``), it finds them too."""

    def _extra(self) -> Mapping[str, str]:
        entry = COMMANDS.get(self.name or "")
        return entry.extra if entry is not None else {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self._extra()))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self._extra().get(cmd_name)
        if cmd_name not in self.commands and module is not None:
            _module(module)
        return super().get_command(ctx, cmd_name)
