"""``TimeDeltaSensor``: waits until a time after the run's data interval end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tradewind.sdk import timezone
from tradewind.sdk.context import Context
from tradewind.sensors.base import BaseSensorOperator


class TimeDeltaSensor(BaseSensorOperator):
    """Succeeds once ``data_interval_end + delta`` has passed (Airflow's semantics)."""

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delta = delta

    def poke(self, context: Context) -> bool:
        reference = (
            context.get("data_interval_end") or context.get("logical_date") or timezone.utcnow()
        )
        target = reference + self.delta
        self.log.info("Checking if the time (%s) has come", target.isoformat())
        return timezone.utcnow() > target
