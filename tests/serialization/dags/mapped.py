"""Dynamic task mapping over literal lists and dicts, upstream outputs and expand_kwargs."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, BashOperator, EmptyOperator, FileSensor, PythonOperator, task
from tradewind.timetables import CronTriggerTimetable


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


def show(**kwargs):
    return kwargs


with DAG(
    "mapped",
    schedule=CronTriggerTimetable("0 6 * * *", "Europe/Berlin", interval=timedelta(hours=1)),
    start_date=datetime(2024, 1, 1),
):

    @task
    def make_numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def make_kwargs() -> list[dict[str, str]]:
        return [{"bash_command": "echo 1"}, {"bash_command": "echo 2"}]

    @task
    def add(x: int, y: int) -> int:
        return x + y

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    numbers = make_numbers()
    over_list = BashOperator.partial(task_id="over_list", env={"A": "1"}, retries=2).expand(
        bash_command=["echo a", "echo b", "echo c"]
    )
    over_dict = PythonOperator.partial(task_id="over_dict", python_callable=show).expand(
        op_kwargs={"zulu": {"n": 1}, "alpha": {"n": 2}}
    )
    over_xcom = add.partial(y=10).expand(x=numbers)
    product = add.expand(x=[1, 2], y=[10, 20, 30])
    opaque = PythonOperator.partial(task_id="opaque", python_callable=show).expand(
        op_args=[[Opaque()], [Opaque(), 2], (3,)]
    )
    kwargs_literal = BashOperator.partial(task_id="kwargs_literal").expand_kwargs(
        [{"bash_command": "echo x", "env": {"K": "v"}}, {"bash_command": "echo y"}]
    )
    kwargs_xcom = BashOperator.partial(task_id="kwargs_xcom").expand_kwargs(make_kwargs())
    sensors = FileSensor.partial(
        task_id="sensors", mode="reschedule", poke_interval=timedelta(minutes=1)
    ).expand(filepath=["/a", "/b"])
    empties = EmptyOperator.partial(task_id="empties").expand(owner=["ann", "bob"])
    total(over_xcom) >> over_list
    over_dict >> [opaque, kwargs_literal, kwargs_xcom, sensors, empties, product]
