"""Fixtures of the backfill tests: the scheduler harness (``tests/scheduler``) and the CLI in
this process (``cli``), both on the same test metastore.

Fixtures
    harness     ``SchedulerHarness`` on a temporary DAG folder (see ``tests/scheduler/conftest.py``)
    deployment  a home and DAG folder for real ``tradewind`` processes (see
                ``tests/e2e/conftest.py``)
    cli         ``cli("dags", "backfill", ...)`` -> click ``Result`` of the real command group
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from e2e.conftest import Deployment, deployment  # noqa: F401  (fixtures re-exported)
from scheduler.conftest import SchedulerHarness, harness  # noqa: F401

from tradewind.cli.main import cli as tradewind_cli


@pytest.fixture
def cli(tradewind_env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(tradewind_cli, list(args), env=tradewind_env, input=input)

    return invoke
