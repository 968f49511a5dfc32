"""Airflow 2 helpers that DAG files still import: each works as it did, and warns once
(``sdk.legacy``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from tradewind.operators.empty import EmptyOperator
from tradewind.sdk import legacy

F = TypeVar("F", bound=Callable[..., Any])


def DummyOperator(**kwargs: Any) -> EmptyOperator:  # noqa: N802 - Airflow 2's class name
    """Airflow 2's ``DummyOperator``: an ``EmptyOperator``."""
    legacy.warn_once("DummyOperator", "EmptyOperator")
    return EmptyOperator(**kwargs)


def days_ago(
    n: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0
) -> dt.datetime:
    """Today's midnight in UTC (or the time given) ``n`` days ago, as Airflow 2 computed it."""
    legacy.warn_once("days_ago()", "a fixed start_date (e.g. pendulum.datetime(2024, 1, 1))")
    today = dt.datetime.now(dt.UTC).replace(
        hour=hour, minute=minute, second=second, microsecond=microsecond
    )
    return today - dt.timedelta(days=n)


def apply_defaults(function: F) -> F:
    """Airflow 2's operator ``__init__`` decorator: operators take ``default_args`` anyway."""
    legacy.warn_once("@apply_defaults", "nothing: default_args apply to every operator")
    return function
