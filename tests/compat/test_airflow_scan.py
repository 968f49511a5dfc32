"""The static scan of a DAG file's ``airflow`` imports: every one Tradewind cannot satisfy,
with its line, also those inside functions; none for what Tradewind has."""

from __future__ import annotations

from tradewind.compat.airflow_scan import Blocker, blockers


def test_every_missing_module_and_name_is_found_with_its_line() -> None:
    source = (
        "from airflow.sdk import DAG, Asset, task\n"
        "import airflow.providers.amazon.aws.hooks.s3\n"
        "def run():\n"
        "    from airflow.providers.http.hooks.http import HttpHook\n"
    )
    assert blockers(source) == [
        Blocker("airflow.sdk.Asset", 1),
        Blocker("airflow.providers.amazon", 2),
        Blocker("airflow.providers.http", 4),
    ]


def test_what_tradewind_has_is_no_blocker() -> None:
    source = (
        "import airflow\n"
        "from airflow import DAG\n"
        "from airflow.operators import python\n"  # a module of a listed package
        "from airflow.providers.standard.operators.bash import BashOperator\n"
        "from airflow.utils.trigger_rule import TriggerRule\n"
        "import pandas\n"
        "from . import helpers\n"
    )
    assert blockers(source) == []


def test_a_file_that_does_not_parse_has_no_blockers_of_its_own() -> None:
    assert blockers("from airflow.sdk import (\n") == []


def test_a_blocker_says_where_and_what() -> None:
    assert Blocker("airflow.sdk.Asset", 3).describe() == (
        "line 3: airflow.sdk.Asset is not available in Tradewind"
    )
