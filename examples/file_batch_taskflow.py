"""Daily file batch: parse each of the day's files in its own task, then publish or flag the day.

``land_files`` stands in for an upstream system and drops the day's CSV files into a landing
folder; ``parse`` is mapped over them (one task instance per file, created at run time);
``summarize`` receives every file's stats as one list. A branch then publishes the day when it
has at least ``min_rows`` rows and flags it otherwise; ``archive`` joins the two paths with
``none_failed_min_one_success``, so it runs whichever path was taken.

Try: ``tradewind dags test file_batch_taskflow 2024-03-01 --conf '{"min_rows": 100}'``
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
from datetime import datetime, timedelta

from tradewind import Param, dag, task

LANDING = os.environ.get(
    "TRADEWIND_EXAMPLE_LANDING", os.path.join(tempfile.gettempdir(), "tradewind_example_landing")
)


@dag(
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["example", "mapping", "branching"],
    params={
        "min_rows": Param(
            5, type="integer", minimum=0, description="Fewest rows a day may have to be published."
        )
    },
    default_args={"owner": "data-eng", "retries": 1, "retry_delay": timedelta(seconds=10)},
)
def file_batch_taskflow():
    @task
    def land_files(ds=None) -> list[str]:
        """Write the day's files (the same content for the same day, so reruns are idempotent)."""
        folder = os.path.join(LANDING, ds)
        os.makedirs(folder, exist_ok=True)
        rng = random.Random(ds)
        paths = []
        for region in ("eu", "us", "apac"):
            path = os.path.join(folder, f"sales_{region}.csv")
            with open(path, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["sku", "quantity"])
                for n in range(rng.randint(0, 4)):
                    writer.writerow([f"sku-{n}", rng.randint(1, 9)])
            paths.append(path)
        return sorted(paths)

    @task
    def parse(path: str) -> dict:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        return {
            "file": os.path.basename(path),
            "rows": len(rows),
            "quantity": sum(int(r["quantity"]) for r in rows),
        }

    @task
    def summarize(stats: list[dict]) -> dict:
        return {
            "files": len(stats),
            "rows": sum(s["rows"] for s in stats),
            "quantity": sum(s["quantity"] for s in stats),
        }

    @task.branch
    def enough_data(summary: dict, params=None) -> str:
        return "publish" if summary["rows"] >= params["min_rows"] else "flag_thin_day"

    @task
    def publish(summary: dict, ds=None) -> int:
        print(f"{ds}: publishing {summary['rows']} rows from {summary['files']} files")
        return summary["quantity"]

    @task
    def flag_thin_day(summary: dict, ds=None) -> None:
        print(f"{ds}: only {summary['rows']} rows; not publishing")

    @task(trigger_rule="none_failed_min_one_success")
    def archive(ds=None) -> str:
        folder = os.path.join(LANDING, ds)
        for name in os.listdir(folder):
            if name.endswith(".csv"):
                os.replace(os.path.join(folder, name), os.path.join(folder, name + ".done"))
        return folder

    summary = summarize(parse.expand(path=land_files()))
    enough_data(summary) >> [publish(summary), flag_thin_day(summary)] >> archive()


file_batch_taskflow()
