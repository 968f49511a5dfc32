"""Airflow 2's DAG keywords given with their Airflow 3 names as well are refused, naming both."""

from __future__ import annotations

import warnings
from datetime import datetime

import pytest

from tradewind import DAG
from tradewind.exceptions import DagDefinitionError
from tradewind.sdk.legacy import LegacySpellingWarning


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "@daily", "schedule_interval": "@daily"}, "schedule or schedule_interval"),
        ({"max_active_tasks": 2, "concurrency": 2}, "max_active_tasks or concurrency"),
    ],
)
def test_both_spellings_at_once_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacySpellingWarning)
        DAG("both", start_date=datetime(2024, 1, 1), **kwargs)


def test_schedule_interval_none_means_no_schedule() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacySpellingWarning)
        dag = DAG("manual", schedule_interval=None)
    assert not dag.timetable.can_be_scheduled
