"""DAG files for backfill tests: daily DAGs whose tasks write to a journal file when they
start and end, so a test can read the order in which task instances really ran."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

HEADER = """
import os, time
from datetime import datetime, timedelta
from tradewind import DAG, BashOperator, EmptyOperator, PythonOperator

JOURNAL = {journal!r}


def work(ti, logical_date, params):
    with open(JOURNAL, "a") as handle:
        handle.write(f"start {{logical_date:%Y-%m-%d}} {{ti.task_id}} {{ti.try_number}}\\n")
    time.sleep(params.get("sleep", {sleep}))
    gate = params.get("gate")
    deadline = time.monotonic() + 30
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.02)  # wait for the test to open the gate
    failing = params.get("fail_unless")  # [day, flag file, task id (optional)]
    if (failing and f"{{logical_date:%Y-%m-%d}}" == failing[0] and not os.path.exists(failing[1])
            and ti.task_id == (failing[2:] or [ti.task_id])[0]):
        raise ValueError(f"failing on purpose until {{failing[1]}} exists")
    print(f"worked on {{logical_date:%Y-%m-%d}}, try {{ti.try_number}}")
    with open(JOURNAL, "a") as handle:
        handle.write(f"end {{logical_date:%Y-%m-%d}} {{ti.task_id}} {{ti.try_number}}\\n")
"""


def write(harness: Any, name: str, body: str, journal: Path, sleep: float = 0.0) -> None:
    """``HEADER`` + ``body`` as DAG file ``name`` in the harness's DAG folder."""
    source = HEADER.format(journal=str(journal), sleep=sleep) + textwrap.dedent(body)
    (harness.folder / name).write_text(source, encoding="utf-8")


def journal_lines(journal: Path) -> list[str]:
    return journal.read_text().splitlines() if journal.exists() else []


def order(journal: Path, event: str = "start", task_id: str | None = None) -> list[str]:
    """Logical dates (YYYY-MM-DD) in the order their ``event`` was written."""
    found = []
    for line in journal_lines(journal):
        kind, date, task, _try = line.split()
        if kind == event and (task_id is None or task == task_id):
            found.append(date)
    return found
