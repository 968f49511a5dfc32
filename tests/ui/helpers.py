"""Helpers of the UI tests: users' password, test DAGs, signing in, CSRF tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from tradewind import DAG, EmptyOperator, Param, TaskGroup, task

ROLES = ("Admin", "Op", "User", "Viewer")
PASSWORD = "secret-pw"
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def grouped_dag(dag_id: str = "ui_groups", *, version: int = 1) -> DAG:
    """start >> etl.extract >> etl.load >> each[] >> end; version 2 adds ``audit``."""
    with DAG(
        dag_id,
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        tags=["ui", "groups"],
        params={"n": Param(3, type="integer", minimum=1, description="How many")},
        default_args={"owner": "ui-team"},
    ) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("etl", tooltip="extract and load"):
            extract = EmptyOperator(task_id="extract")
            load = EmptyOperator(task_id="load")
            extract >> load

        @task
        def each(x: int) -> int:
            return x

        mapped = each.expand(x=[1, 2, 3])
        end = EmptyOperator(task_id="end")
        start >> extract
        load >> mapped >> end
        if version >= 2:
            end >> EmptyOperator(task_id="audit")
    return dag


def nested_dag() -> DAG:
    with DAG("nested", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("outer"):
            with TaskGroup("inner"):
                a = EmptyOperator(task_id="a")
                b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
        with TaskGroup("side"):
            d = EmptyOperator(task_id="d")
        end = EmptyOperator(task_id="end")
        start >> [a, b, d]
        a >> c
        [b, c, d] >> end
    return dag


def loop_dag() -> DAG:
    """``g.a >> b >> g.c``: closing ``g`` makes the cycle ``g -> b -> g``."""
    with DAG("loop", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        with TaskGroup("g"):
            a = EmptyOperator(task_id="a")
            c = EmptyOperator(task_id="c")
        b = EmptyOperator(task_id="b")
        a >> b >> c
    return dag


def plain_dag(dag_id: str = "ui_plain", tags: tuple[str, ...] = ("ui",)) -> DAG:
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1), tags=list(tags)) as dag:
        EmptyOperator(task_id="only")
    return dag


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]*)"', html
    )
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/dags"},
    )
    assert response.status_code == 303, response.text


def token(client: TestClient) -> str:
    """The signed-in session's CSRF token."""
    return csrf_of(client.get("/dags").text)


ALL_OK = {
    "start": "success",
    "etl.extract": "success",
    "etl.load": "success",
    "each[0]": "success",
    "each[1]": "success",
    "each[2]": "success",
    "end": "success",
}
