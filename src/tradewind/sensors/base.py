"""``BaseSensorOperator``: poke until a condition holds, in ``poke`` or ``reschedule`` mode.

In ``poke`` mode the sensor holds its worker slot and sleeps between pokes. In ``reschedule``
mode it raises ``RescheduleTask`` after a failed poke, freeing its slot until the next poke
time (state ``up_for_reschedule``). The timeout counts from the first poke of the current try,
across reschedules.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

from tradewind.exceptions import (
    DagDefinitionError,
    FailTask,
    RescheduleTask,
    SensorTimeout,
    SkipTask,
    TaskControlFlow,
    TaskTimeout,
)
from tradewind.sdk import timezone
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import Context

MODES = ("poke", "reschedule")


@dataclasses.dataclass(frozen=True)
class PokeReturnValue:
    """What ``poke`` may return to also push an XCom when done."""

    is_done: bool
    xcom_value: Any = None

    def __bool__(self) -> bool:
        return self.is_done


def _seconds(name: str, value: Any, task_id: str) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise DagDefinitionError(
        f"task {task_id!r}: {name} must be a non-negative number of seconds or a timedelta, got "
        f"{value!r}"
    )


class BaseSensorOperator(BaseOperator):
    """Subclasses implement ``poke(context) -> bool | PokeReturnValue``."""

    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        poke_interval: float | timedelta = 60,
        timeout: float | timedelta = 60 * 60 * 24 * 7,
        soft_fail: bool = False,
        mode: str = "poke",
        exponential_backoff: bool = False,
        max_wait: float | timedelta | None = None,
        silent_fail: bool = False,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # Deferring hands the wait to a triggerer; until Tradewind has one, the nearest
        # behaviour is rescheduling: the wait holds no worker slot between pokes either.
        self.deferrable = deferrable
        if deferrable and mode == "poke":
            mode = "reschedule"
        self.poke_interval = _seconds("poke_interval", poke_interval, self.task_id)
        self.timeout = _seconds("timeout", timeout, self.task_id)
        self.max_wait = None if max_wait is None else _seconds("max_wait", max_wait, self.task_id)
        if mode not in MODES:
            raise DagDefinitionError(
                f"task {self.task_id!r}: mode must be one of {', '.join(MODES)}, got {mode!r}"
            )
        self.mode = mode
        self.soft_fail = soft_fail
        self.exponential_backoff = exponential_backoff
        self.silent_fail = silent_fail

    @property
    def reschedule(self) -> bool:
        return self.mode == "reschedule"

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Check the condition once."""
        raise NotImplementedError(f"{type(self).__name__} does not implement poke()")

    def next_poke_interval(self, poke_number: int) -> float:
        """Seconds before poke ``poke_number + 1``; doubles each time with exponential_backoff."""
        if not self.exponential_backoff:
            return self.poke_interval
        delay = self.poke_interval * (2 ** max(poke_number - 1, 0))
        if self.max_wait is not None:
            delay = min(delay, self.max_wait)
        return delay

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        started = getattr(ti, "sensor_start_date", None) or timezone.utcnow()
        poke_number = int(getattr(ti, "poke_number", 0) or 0)
        while True:
            poke_number += 1
            try:
                result = self.poke(context)
            except (FailTask, TaskTimeout) as exc:
                if self.soft_fail:
                    raise SkipTask("Skipping due to soft_fail is set to True.") from exc
                raise
            except TaskControlFlow:
                raise
            except Exception:
                if self.silent_fail:
                    self.log.exception("poke failed; silent_fail is set, poking again")
                    result = False
                else:
                    raise
            if result:
                self.log.info("Success criteria met. Exiting.")
                return result.xcom_value if isinstance(result, PokeReturnValue) else None
            elapsed = (timezone.utcnow() - started).total_seconds()
            if elapsed > self.timeout:
                message = (
                    f"Sensor has timed out; run duration of {elapsed:.1f} seconds exceeds the "
                    f"specified timeout of {self.timeout}."
                )
                if self.soft_fail:
                    raise SkipTask(message)
                raise SensorTimeout(message)
            interval = self.next_poke_interval(poke_number)
            if self.reschedule:
                raise RescheduleTask(timezone.utcnow() + timedelta(seconds=interval))
            self.log.info("Condition not met; poking again in %.1f s", interval)
            time.sleep(interval)
