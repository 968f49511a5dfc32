"""Helpers DAG files import from Airflow: ``chain_linear`` and the ``timezone`` module."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tradewind import DAG, EmptyOperator
from tradewind.compat import airflow_timezone as timezone
from tradewind.sdk.dependencies import chain_linear


def test_chain_linear_links_each_element_to_all_of_the_next() -> None:
    with DAG("linear", schedule=None) as dag:
        a, b, c, d, e = (EmptyOperator(task_id=name) for name in "abcde")
        chain_linear(a, [b, c], [d, e])
    assert dag.task_dict["a"].downstream_task_ids == {"b", "c"}
    assert dag.task_dict["b"].downstream_task_ids == {"d", "e"}
    assert dag.task_dict["c"].downstream_task_ids == {"d", "e"}
    with pytest.raises(ValueError, match="at least two"):
        chain_linear(a)


def test_timezone_helpers() -> None:
    assert timezone.datetime(2024, 1, 1) == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    seoul = timezone.datetime(2024, 1, 1, 9, tzinfo="Asia/Seoul")
    assert seoul.utcoffset() == dt.timedelta(hours=9)
    assert timezone.convert_to_utc(seoul) == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert timezone.parse("2024-01-01T00:00:00").tzinfo == dt.UTC
    assert timezone.parse("2024-01-01T00:00", timezone="Asia/Seoul").tzinfo == ZoneInfo(
        "Asia/Seoul"
    )
    assert timezone.is_localized(timezone.utcnow())
    assert timezone.is_naive(dt.datetime(2024, 1, 1))
    assert timezone.make_aware(dt.datetime(2024, 1, 1)).tzinfo is not None
