"""The executor contract: start tries, report how they end.

An executor does not touch task instance rows: it reports events, and the scheduler applies
them to the metastore in batched transactions. This keeps one writer on the hot path.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tradewind.executors.workload import TaskWorkload

#: Answers a task process's question (``xcom_get``, ``variable_get``, ...) from the metastore.
RequestHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class TaskStarted:
    ti_id: int
    pid: int
    hostname: str
    at: datetime


@dataclasses.dataclass(frozen=True)
class TaskFinished:
    """The try ended and reported its outcome (``message`` as in ``outcome_to_message``)."""

    ti_id: int
    message: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class TaskDied:
    """The task process ended without reporting an outcome (killed, crashed, timed out)."""

    ti_id: int
    reason: str


Event = TaskStarted | TaskFinished | TaskDied


class BaseExecutor(abc.ABC):
    """Runs workloads; ``wait`` blocks until events arrive or a timeout passes."""

    parallelism: int

    @abc.abstractmethod
    def start(self, request_handler: RequestHandler) -> None:
        """Get ready; ``request_handler`` answers task processes' questions."""

    @abc.abstractmethod
    def launch(self, workload: TaskWorkload) -> None:
        """Start one try now. The caller respects ``open_slots``."""

    @property
    @abc.abstractmethod
    def open_slots(self) -> int:
        """How many more tries may start now."""

    @property
    @abc.abstractmethod
    def running_ti_ids(self) -> set[int]:
        """Task instances whose tries this executor is running."""

    @abc.abstractmethod
    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        """Block until a task event or one of ``extra_fds`` is readable, or ``timeout`` s pass.

        Returns the events and the extra fds that are readable.
        """

    @abc.abstractmethod
    def terminate(self, ti_id: int) -> None:
        """Stop one running try (its process gets SIGTERM, then SIGKILL after a grace period)."""

    @abc.abstractmethod
    def end(self, grace: float = 5.0) -> list[Event]:
        """Stop every running try and return the events of their ending."""
