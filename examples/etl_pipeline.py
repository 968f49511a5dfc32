"""ETL pipeline: two independent extracts run in parallel, then transform, then load.

Each run works on its own data interval ({{ data_interval_start }} .. {{ data_interval_end }}),
and the load replaces that interval's rows, so re-running a day never duplicates data.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import tempfile
from datetime import datetime, timedelta

from tradewind import DAG, task

WAREHOUSE = os.environ.get(
    "TRADEWIND_EXAMPLE_WAREHOUSE",
    os.path.join(tempfile.gettempdir(), "tradewind_example_warehouse.db"),
)

with DAG(
    "etl_pipeline",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "etl"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5), "owner": "data-eng"},
    doc_md=__doc__,
) as dag:

    @task
    def extract_orders(data_interval_start=None) -> list[dict]:
        """Pretend to read the day's orders from an operational system."""
        rng = random.Random(data_interval_start.isoformat())
        return [
            {
                "order_id": f"{data_interval_start:%Y%m%d}-{n}",
                "customer_id": rng.randint(1, 5),
                "amount": round(rng.uniform(5, 500), 2),
            }
            for n in range(rng.randint(3, 8))
        ]

    @task
    def extract_customers() -> dict[str, str]:
        """Pretend to read the customer directory."""
        return {
            str(n): name
            for n, name in enumerate(["Ada", "Grace", "Linus", "Guido", "Barbara"], start=1)
        }

    @task
    def transform(orders: list[dict], customers: dict[str, str]) -> list[dict]:
        """Join orders to customer names and total per customer."""
        totals: dict[str, float] = {}
        for order in orders:
            name = customers.get(str(order["customer_id"]), "unknown")
            totals[name] = round(totals.get(name, 0.0) + order["amount"], 2)
        return [{"customer": name, "total": total} for name, total in sorted(totals.items())]

    @task
    def load(rows: list[dict], ds=None) -> int:
        """Replace the interval's rows in the warehouse (idempotent)."""
        with sqlite3.connect(WAREHOUSE) as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS daily_totals (ds TEXT, customer TEXT, total REAL)"
            )
            connection.execute("DELETE FROM daily_totals WHERE ds = ?", (ds,))
            connection.executemany(
                "INSERT INTO daily_totals (ds, customer, total) VALUES (?, ?, ?)",
                [(ds, row["customer"], row["total"]) for row in rows],
            )
        print(json.dumps({"ds": ds, "rows": len(rows)}))
        return len(rows)

    load(transform(extract_orders(), extract_customers()))
