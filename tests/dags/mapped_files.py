"""Dynamic task mapping over an upstream task's output.

``mapped_files``: ``list_files`` returns three file names; ``count_lines`` is mapped over them
(``count_lines[0..2]``); one element is then used by a classic operator mapped with
``partial/expand``; ``total`` receives the mapped output as a list.

``mapped_nothing``: the list is empty, so the mapped task is skipped (one task instance, no
map index) and ``total`` after it is skipped too; ``report`` (all_done) still runs.

``mapped_partial_failure``: one element raises; the others succeed, ``total`` is
upstream_failed and the run fails.
"""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, BashOperator, task


@task
def count_lines(name: str, lines_per_file: int) -> int:
    if name == "broken.csv":
        raise ValueError(f"cannot parse {name}")
    return len(name) * lines_per_file


@task
def total(counts: list[int]) -> int:
    return sum(counts)


with DAG(
    "mapped_files", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False
) as mapped_files:

    @task
    def list_files(ds=None) -> list[str]:
        return [f"a_{ds}.csv", f"bb_{ds}.csv", f"ccc_{ds}.csv"]

    files = list_files()
    counts = count_lines.partial(lines_per_file=10).expand(name=files)
    echo = BashOperator.partial(task_id="echo_file").expand(bash_command=["echo a", "echo b"])
    total(counts) >> echo


with DAG("mapped_nothing", schedule=None) as mapped_nothing:

    @task
    def list_files() -> list[str]:
        return []

    @task(trigger_rule="all_done")
    def report(counts):
        return len(counts)

    counts = count_lines.partial(lines_per_file=1).expand(name=list_files())
    total(counts)
    report(counts)


with DAG("mapped_partial_failure", schedule=None) as mapped_partial_failure:
    counts = count_lines.partial(lines_per_file=1).expand(name=["a.csv", "broken.csv", "c.csv"])
    total(counts)
