"""Which task instance a log line comes from, for formatting in-process task logs."""

from __future__ import annotations

import contextvars
import logging

current_task_label: contextvars.ContextVar[str] = contextvars.ContextVar(
    "tradewind_task_label", default="-"
)


class TaskLabelFilter(logging.Filter):
    """Adds ``record.task_label`` (the running task instance, or ``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.task_label = current_task_label.get()
        return True
