"""``tradewind tasks ...``: the group.

Its commands live in modules of their own (``registry.COMMANDS``), each imported when its
command runs: ``task_testing`` (list, test), ``task_admin`` (states-for-dag-run, logs),
``clear``.
"""

from __future__ import annotations

import click

from tradewind.cli import registry


@click.group("tasks", cls=registry.LazySubgroup)
def tasks_group() -> None:
    """Work with tasks."""
