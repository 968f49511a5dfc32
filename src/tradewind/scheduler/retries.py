"""When a failed try is retried: retry_delay, exponential backoff, max_retry_delay."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta
from typing import Any

_MAX_SECONDS = timedelta.max.total_seconds() - 1


def retry_delay(task: Any, *, dag_id: str, run_id: str, try_number: int) -> timedelta:
    """The wait after failed try ``try_number`` (Airflow's formula, jitter included).

    With exponential backoff the delay doubles each try, plus a deterministic per-instance
    jitter so many failing tasks do not retry in lockstep; ``max_retry_delay`` caps it.
    """
    delay: timedelta = task.retry_delay
    if task.retry_exponential_backoff:
        # At least 1 s, as in Airflow: a zero retry_delay with backoff still waits 1-2 s.
        minimum = max(math.ceil(delay.total_seconds() * (2 ** (try_number - 1))), 1)
        digest = hashlib.sha1(f"{dag_id}#{task.task_id}#{run_id}#{try_number}".encode()).hexdigest()
        jittered = minimum + int(digest, 16) % minimum
        delay = timedelta(seconds=min(jittered, _MAX_SECONDS))
        if task.max_retry_delay is not None:
            delay = min(task.max_retry_delay, delay)
    return delay


def next_retry_at(
    task: Any, *, dag_id: str, run_id: str, try_number: int, failed_at: datetime
) -> datetime:
    return failed_at + retry_delay(task, dag_id=dag_id, run_id=run_id, try_number=try_number)
