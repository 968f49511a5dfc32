"""The shared ``-o table|json|plain`` renderer."""

from __future__ import annotations

import datetime as dt
import json

import click
import pytest
from click.testing import CliRunner

from tradewind.cli import output
from tradewind.exceptions import TradewindError

ROWS = [
    {"name": "a", "n": 1, "when": dt.datetime(2024, 1, 1, tzinfo=dt.UTC), "x": None},
    {"name": "longer", "n": 22, "when": None, "x": {"k": [1]}},
]


def test_table() -> None:
    assert output.render(ROWS, "table").splitlines() == [
        "name   | n  | when                      | x",
        "=======+====+===========================+===========",
        "a      | 1  | 2024-01-01T00:00:00+00:00 |",
        'longer | 22 |                           | {"k": [1]}',
    ]


def test_plain_and_columns() -> None:
    assert output.render(ROWS, "plain", columns=["n", "name"]).splitlines() == [
        "n   name",
        "1   a",
        "22  longer",
    ]


def test_json_keeps_types() -> None:
    assert json.loads(output.render(ROWS, "json")) == [
        {"name": "a", "n": 1, "when": "2024-01-01T00:00:00+00:00", "x": None},
        {"name": "longer", "n": 22, "when": None, "x": {"k": [1]}},
    ]


def test_empty() -> None:
    assert output.render([], "table") == "No data found"
    assert output.render([], "json") == "[]"


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        output.render(ROWS, "yaml")


def test_user_errors_become_one_line_and_exit_1() -> None:
    @click.command()
    @output.user_errors
    def boom() -> None:
        raise TradewindError("first line\n  second line")

    result = CliRunner().invoke(boom)
    assert (result.exit_code, result.stderr) == (1, "Error: first line second line\n")
