"""Secrets a try reads never reach other people in clear: a real run through the scheduler with a
sensitive variable, a connection with a password and a token in its extra, and ``mask_secret``
calls stores its rendered template fields masked, on success, failure and retry alike; the
services, the REST API and the UI task page (to a Viewer) show them masked, as the task log does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.ui.helpers import sign_in
from tradewind.api.app import create_app
from tradewind.api.ui import models_task_instances
from tradewind.db import engine as db_engine
from tradewind.runner.log_paths import try_log_path
from tradewind.sdk.connection import Connection
from tradewind.sdk.secrets_masker import masker
from tradewind.services import connections, task_instances, users, variables
from tradewind.services.secrets import SecretCipher

DAG_SOURCE = """
    from datetime import timedelta

    from tradewind import DAG, BashOperator, PythonOperator
    from tradewind.sdk.log import mask_secret

    mask_secret("parse-time-secret-42")

    def uses_secrets(command, env):
        mask_secret("runtime-secret-77")
        print("registered while running: runtime-secret-77")
        return "ok"

    with DAG("masking", schedule=None) as dag:
        BashOperator(
            task_id="bash",
            bash_command="echo {{ var.value.my_password }} {{ conn.secret_conn.password }} "
                         "{{ conn.x.extra_dejson }}",
            env={"API_TOKEN": "{{ conn.secret_conn.extra_dejson['token'] }}",
                 "REGION": "{{ var.value.region }}",
                 "EXTRA": "{{ conn.secret_conn.extra }}", "PARSED": "parse-time-secret-42"},
            # XCom values are not masked (as in Airflow), and the echo would push them
            do_xcom_push=False,
        )
        PythonOperator(task_id="python", python_callable=uses_secrets, op_kwargs={
            "command": "login {{ conn.secret_conn.login }}:{{ conn.secret_conn.password }}",
            "env": {"token": "plain-looking-value", "later": "runtime-secret-77"},
        })
        BashOperator(task_id="failing", bash_command="echo {{ var.value.my_password }}; exit 1",
                     retries=1, retry_delay=timedelta(seconds=1), do_xcom_push=False)
"""

SECRETS = (
    "hunter2-variable",
    "conn-pass-word",
    "tok-abcdef-123",
    "key-xyz-987",
    "nested-secret-1",
    "parse-time-secret-42",
    "runtime-secret-77",
    "plain-looking-value",
)
VIEWER_PASSWORD = "viewer-password"


@pytest.fixture(autouse=True)
def _fresh_masker() -> Iterator[None]:
    masker.reset()  # the scheduler's process registers nothing: every secret is hidden in the tries
    yield
    masker.reset()


def _store_secrets(harness: Any) -> None:
    cipher = SecretCipher.from_settings(harness.settings)

    def store(session: Any) -> None:
        variables.set_variable(session, "my_password", "hunter2-variable", cipher=cipher)
        variables.set_variable(session, "region", "eu-west-1", cipher=cipher)
        connections.add_connection(
            session,
            Connection(
                conn_id="secret_conn",
                conn_type="http",
                host="api.example.com",
                login="robot",
                password="conn-pass-word",
                extra=json.dumps({"token": "tok-abcdef-123", "timeout": 30}),
            ),
            cipher=cipher,
        )
        connections.add_connection(
            session,
            Connection(
                conn_id="x",
                conn_type="http",
                extra=json.dumps(
                    {
                        "api_key": "key-xyz-987",
                        "auth": {"client_secret": "nested-secret-1"},
                        "project": "visible-project",
                    }
                ),
            ),
            cipher=cipher,
        )
        users.create_user(session, username="viewer", password=VIEWER_PASSWORD, role="Viewer")

    db_engine.run_in_transaction(harness.engine, store)


def _no_secret(text: str) -> str:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} shown in clear: {text}"
    return text


def test_rendered_fields_are_masked_where_they_are_stored_and_shown(harness) -> None:
    _store_secrets(harness)
    harness.write("masking.py", DAG_SOURCE)
    harness.parse()
    run_id = harness.trigger("masking")
    harness.run_until(harness.run_finished("masking", run_id), timeout=60)
    assert harness.states("masking", run_id) == {
        "bash": "success",
        "python": "success",
        "failing": "failed",
    }

    # What is stored, read through the services the API and the UI use.
    def read(session: Any) -> dict[str, Any]:
        found = {
            ti.task_id: ti.rendered_fields
            for ti in task_instances.of_task(session, "masking", run_id, "bash")
        }
        found.update(
            {
                ti.task_id: ti.rendered_fields
                for ti in task_instances.of_task(session, "masking", run_id, "python")
            }
        )
        found["failing"] = [
            t.rendered_fields for t in task_instances.tries(session, "masking", run_id, "failing")
        ]
        found["page"] = models_task_instances.task_instance(
            session, "masking", run_id, "bash"
        ).rendered_fields
        return found

    stored = harness.read(read)
    _no_secret(json.dumps(stored))
    bash = stored["bash"]
    assert (
        bash["bash_command"].startswith("echo *** *** {")
        and "'api_key': '***'" in bash["bash_command"]
    )
    assert (
        "'client_secret': '***'" in bash["bash_command"]
        and "visible-project" in bash["bash_command"]
    )
    assert bash["env"] == {
        "API_TOKEN": "***",
        "REGION": "eu-west-1",
        "EXTRA": "***",
        "PARSED": "***",
    }
    assert stored["python"]["op_kwargs"] == {
        "command": "login robot:***",
        "env": {"token": "***", "later": "***"},
    }
    assert [fields["bash_command"] for fields in stored["failing"]] == [
        "echo ***; exit 1"
    ] * 2  # retry, then failure
    assert stored["page"] == bash

    # The task log of the same tries: the same masker.
    log_folder = harness.settings.log_folder
    bash_log = try_log_path(log_folder, "masking", run_id, "bash", -1, 1).read_text()
    assert "*** *** {" in _no_secret(bash_log)
    python_log = try_log_path(log_folder, "masking", run_id, "python", -1, 1).read_text()
    assert "registered while running: ***" in _no_secret(python_log)

    # The REST API and the UI, to a Viewer.
    app = create_app(harness.settings, harness.engine)
    with TestClient(app, follow_redirects=False) as client:
        token = client.post(
            "/auth/token", json={"username": "viewer", "password": VIEWER_PASSWORD}
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        base = f"/api/v2/dags/masking/dagRuns/{quote(run_id, safe='')}/taskInstances"
        one = client.get(f"{base}/bash", headers=headers)
        assert one.status_code == 200, one.text
        assert one.json()["rendered_fields"] == bash
        listed = client.get(base, headers=headers)
        assert listed.status_code == 200 and len(listed.json()["task_instances"]) == 3
        _no_secret(listed.text)
        every_run = client.get("/api/v2/dags/~/dagRuns/~/taskInstances", headers=headers)
        assert every_run.status_code == 200 and "***" in _no_secret(every_run.text)
        tries = client.get(f"{base}/failing/tries", headers=headers)
        assert tries.status_code == 200 and len(tries.json()["task_instances"]) == 2
        _no_secret(tries.text)

        sign_in(client, "viewer", VIEWER_PASSWORD)
        page = client.get(f"/dags/masking/runs/{quote(run_id, safe='')}/tasks/bash")
        assert page.status_code == 200 and "API_TOKEN" in page.text and "eu-west-1" in page.text
        _no_secret(page.text)
