"""Incremental load: each run copies the rows of its own data interval, idempotently.

A source table of orders (seeded on first use) is read for
[{{ data_interval_start }}, {{ data_interval_end }}); the target table's rows for that
interval are deleted and re-inserted in one transaction, so running (or backfilling) a day
twice leaves exactly one copy of that day's rows.

Try it:  tradewind dags backfill incremental_load --start-date 2024-01-01 --end-date 2024-01-31
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
from datetime import datetime, timedelta

from tradewind import DAG, PythonOperator, task

DATA_DIR = os.environ.get("TRADEWIND_EXAMPLE_DATA", tempfile.gettempdir())
SOURCE_DB = os.path.join(DATA_DIR, "tradewind_example_source.db")
TARGET_DB = os.path.join(DATA_DIR, "tradewind_example_target.db")


def seed_source(path: str = SOURCE_DB) -> None:
    """Hourly orders for 2024, generated deterministically once (safe when runs start together)."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")  # one seeder at a time; the others then see the rows
        connection.execute(
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, "
            "amount REAL NOT NULL)"
        )
        if not connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0]:
            rng = random.Random(2024)
            start = datetime(2024, 1, 1)
            rows = [
                (
                    (start + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                    round(rng.uniform(1, 100), 2),
                )
                for hour in range(366 * 24)
            ]
            connection.executemany("INSERT INTO orders (created_at, amount) VALUES (?, ?)", rows)
        connection.execute("COMMIT")
    finally:
        connection.close()


def copy_interval(templates_dict: dict[str, str], **_: object) -> int:
    """Delete the interval in the target, then insert the source rows of the interval."""
    seed_source()
    start, end = templates_dict["start"], templates_dict["end"]
    with sqlite3.connect(SOURCE_DB) as source:
        rows = source.execute(
            "SELECT id, created_at, amount FROM orders WHERE created_at >= ? AND created_at < ? "
            "ORDER BY id",
            (start, end),
        ).fetchall()
    with sqlite3.connect(TARGET_DB, timeout=30) as target:
        target.execute(
            "CREATE TABLE IF NOT EXISTS orders_copy (id INTEGER PRIMARY KEY, created_at TEXT NOT "
            "NULL, amount REAL NOT NULL)"
        )
        target.execute(
            "DELETE FROM orders_copy WHERE created_at >= ? AND created_at < ?", (start, end)
        )
        target.executemany(
            "INSERT INTO orders_copy (id, created_at, amount) VALUES (?, ?, ?)", rows
        )
    print(f"copied {len(rows)} rows for [{start}, {end})")
    return len(rows)


with DAG(
    "incremental_load",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    end_date=datetime(2024, 12, 31),
    catchup=False,
    max_active_runs=4,
    tags=["example", "incremental"],
    doc_md=__doc__,
) as dag:
    copy = PythonOperator(
        task_id="copy_interval",
        python_callable=copy_interval,
        templates_dict={
            "start": "{{ data_interval_start.strftime('%Y-%m-%dT%H:%M:%S+00:00') }}",
            "end": "{{ data_interval_end.strftime('%Y-%m-%dT%H:%M:%S+00:00') }}",
        },
    )

    @task
    def check_count(copied: int, data_interval_start=None) -> None:
        """A day of hourly orders has 24 rows."""
        if copied != 24:
            raise ValueError(
                f"expected 24 rows for {data_interval_start:%Y-%m-%d}, copied {copied}"
            )

    check_count(copy.output)
