"""A DAG file written for Airflow, run by the scheduler: parsed by the DAG processor, its tries
forked from a warm launcher that loaded the stored source (both import ``airflow``); a task
reads a variable and a connection of the metastore (``Variable.get``, a hook's
``get_connection``)."""

from __future__ import annotations

import pytest

from e2e.conftest import Deployment

pytestmark = pytest.mark.slow

AIRFLOW_DAG = """
    from airflow.hooks.base import BaseHook
    from airflow.sdk import DAG, Variable, task
    from airflow.providers.standard.operators.bash import BashOperator

    with DAG("from_airflow", schedule=None, is_paused_upon_creation=False):
        @task
        def double(value):
            return value * 2

        @task
        def check(value):
            assert value == 42, value
            assert Variable.get("greeting") == "hello"
            assert Variable.get("limits", deserialize_json=True) == {"rows": 3}
            assert BaseHook.get_connection("warehouse").host == "db.example"

        check(double(21)) >> BashOperator(task_id="shell", bash_command="echo done")
"""


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_scheduler_runs_an_airflow_dag_file(deployment: Deployment) -> None:
    d = deployment
    d.write("from_airflow.py", AIRFLOW_DAG)
    assert d.cli("variables", "set", "greeting", "hello").returncode == 0
    assert d.cli("variables", "set", "limits", '{"rows": 3}').returncode == 0
    uri = "postgres://etl:pw@db.example:5432/sales"
    assert d.cli("connections", "add", "warehouse", "--conn-uri", uri).returncode == 0
    d.parse()
    d.start("scheduler")
    assert d.cli("dags", "trigger", "from_airflow", "--run-id", "r1").returncode == 0
    final = d.ended_run("from_airflow", "r1", 60)
    assert final["state"] == "success", final
    assert {task["state"] for task in final["tasks"].values()} == {"success"}
