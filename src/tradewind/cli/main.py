"""The ``tradewind`` command: one click group, one module per command group."""

from __future__ import annotations

import click

from tradewind.cli import registry


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="tradewind", prog_name="tradewind")
def cli() -> None:
    """Tradewind: a light, fast workflow orchestrator."""


registry.register_all(cli)


def main() -> None:
    cli(prog_name="tradewind")


if __name__ == "__main__":
    main()
