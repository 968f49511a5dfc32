"""``python -m bench.pass_probe N``: time ``N`` full scheduler passes on the metastore of
``$TRADEWIND_HOME`` (settings from the environment), printing the seconds as JSON.

A full pass is what the scheduler runs when woken from outside or at a deadline: it asks the
metastore for due runs, queued runs, running runs, ready task instances, the next run and
retry times; with recovery it also looks for orphans. The executor here starts nothing and
has every slot free, so the pass makes every query it would make on an idle scheduler.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tradewind import config
from tradewind.db import engine as db_engine
from tradewind.executors.base import BaseExecutor, Event
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.scheduler.dag_cache import DagVersionCache
from tradewind.scheduler.scheduler_pass import SchedulerPass
from tradewind.sdk import timezone
from tradewind.services import db_admin


class IdleExecutor(BaseExecutor):
    """Runs nothing; 32 free slots, as the default parallelism."""

    parallelism = 32

    def start(
        self, request_handler: Any, *, private_fds: Any = (), home: Path | None = None
    ) -> None:
        return None

    def launch(self, workload: TaskWorkload) -> None:
        raise RuntimeError(f"the probe found work to start: {workload.describe()}")

    def launch_callback(self, workload: CallbackWorkload) -> None:
        return None

    @property
    def open_slots(self) -> int:
        return self.parallelism

    @property
    def running_ti_ids(self) -> set[int]:
        return set()

    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        return [], []

    def terminate(self, ti_id: int) -> None:
        return None

    def end(self, grace: float | None = None) -> list[Event]:
        return []


def time_passes(count: int) -> dict[str, list[float]]:
    settings = config.load()
    engine = db_admin.open_engine(settings, auto_migrate=False)
    passes = SchedulerPass.for_settings(DagVersionCache(), IdleExecutor(), settings, engine)
    found: dict[str, list[float]] = {"full": [], "recover": []}
    try:
        for index in range(count + 1):
            for kind in ("recover", "full"):
                started = time.perf_counter()
                result = db_engine.run_in_transaction(
                    engine,
                    lambda session, kind=kind: passes.run(  # type: ignore[misc]
                        session, [], timezone.utcnow(), True, kind == "recover", [], False
                    ),
                )
                passes.committed(result, kind == "recover")  # as the scheduler's loop does
                if index:  # the first of each kind fills caches and is not counted
                    found[kind].append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return found


if __name__ == "__main__":
    print(json.dumps(time_passes(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
