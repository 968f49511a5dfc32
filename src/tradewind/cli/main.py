"""The ``tradewind`` command: one click group, one module per command group.

The group is lazy (``registry.LazyGroup``): a command's module is imported when it runs, so
``tradewind dags test`` does not pay for the database, API and migration modules.
"""

from __future__ import annotations

import click

from tradewind.cli import registry


@click.group(
    cls=registry.LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="tradewind", prog_name="tradewind")
def cli() -> None:
    """Tradewind: a light, fast workflow orchestrator."""


def main() -> None:
    cli(prog_name="tradewind")


if __name__ == "__main__":
    main()
