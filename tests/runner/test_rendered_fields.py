"""Rendered template fields of a try: JSON values, with every secret the try read or registered
hidden by the same masker as the task log, whatever way the try ends."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tradewind import DAG, BashOperator, PythonOperator, mask_secret
from tradewind.runner import masking, rendered_fields
from tradewind.runner.task_execution import TryOutcome, TryRequest, execute_try
from tradewind.runner.xcom_store import InMemoryXComStore
from tradewind.sdk.connection import Connection
from tradewind.sdk.secrets_masker import masker
from tradewind.sdk.states import TaskInstanceState as TIS
from tradewind.services.dag_test import make_run_info

VARIABLES = {
    "my_password": "var-secret-value",
    "region": "eu-west-1",
    "config": '{"api_key": "cfg-key-123", "n": 1}',
}
CONNECTIONS = {
    "secret_conn": Connection(
        conn_id="secret_conn",
        conn_type="http",
        host="api.example.com",
        login="bob",
        password="conn-pass/word",
        extra=json.dumps({"token": "tok-abcdef", "timeout": 30}),
    ),
    "x": Connection(
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
}
SECRETS = (
    "var-secret-value",
    "conn-pass/word",
    "conn-pass%2Fword",
    "tok-abcdef",
    "key-xyz-987",
    "nested-secret-1",
    "cfg-key-123",
    "runtime-secret-77",
    "parse-time-secret",
)


@pytest.fixture(autouse=True)
def _fresh_masker() -> Iterator[None]:
    masker.reset()
    yield
    masker.reset()


def _execute(dag: DAG, task_id: str, **request: Any) -> TryOutcome:
    task = dag.get_task(task_id)
    run = make_run_info(dag, datetime(2024, 3, 1), {})
    request.setdefault("max_tries", task.retries)
    return execute_try(
        TryRequest(task=task, run=run, params={}, **request),
        InMemoryXComStore(),
        variable_lookup=VARIABLES.get,
        connection_lookup=CONNECTIONS.get,
    )


def _assert_no_secret(data: Any) -> str:
    text = json.dumps(data)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in {text}"
    return text


COMMAND = (
    "echo {{ var.value.my_password }} {{ conn.secret_conn.password }} {{ conn.x.extra_dejson }} "
    "{{ conn.secret_conn.get_uri() }} {{ var.value.region }}"
)


def test_bash_operator_fields_are_masked_in_strings_and_nested_values() -> None:
    with DAG("masked_bash", schedule=None) as dag:
        BashOperator(
            task_id="bash",
            bash_command=COMMAND,
            env={
                "API_TOKEN": "{{ conn.secret_conn.extra_dejson['token'] }}",
                "PLAIN": "{{ var.value.region }}",
                "CONFIG": "{{ var.json.config }}",
                "PATH": "/usr/bin:/bin",
            },
        )
    outcome = _execute(dag, "bash")
    assert outcome.state is TIS.SUCCESS
    fields = outcome.rendered_fields
    _assert_no_secret(fields)
    command = fields["bash_command"]
    assert (
        command.startswith("echo *** *** {")
        and "'api_key': '***'" in command
        and "'client_secret': '***'" in command
    )
    assert (
        "visible-project" in command
        and "http://bob:***@api.example.com" in command
        and command.endswith("eu-west-1")
    )
    assert fields["env"] == {
        "API_TOKEN": "***",
        "PLAIN": "eu-west-1",
        "CONFIG": "{'api_key': '***', 'n': 1}",
        "PATH": "/usr/bin:/bin",
    }
    assert fields["cwd"] is None


def test_the_whole_extra_and_values_given_to_mask_secret_are_masked() -> None:
    def registers(value: str, extra: str) -> str:
        mask_secret("runtime-secret-77")  # after rendering: still hidden in what is stored
        return "done"

    mask_secret("parse-time-secret")
    with DAG("masked_python", schedule=None) as dag:
        PythonOperator(
            task_id="py",
            python_callable=registers,
            op_kwargs={
                "value": "runtime-secret-77 parse-time-secret",
                "extra": "{{ conn.secret_conn.extra }}",
            },
        )
    outcome = _execute(dag, "py")
    assert outcome.state is TIS.SUCCESS
    _assert_no_secret(outcome.rendered_fields)
    assert outcome.rendered_fields["op_kwargs"] == {"value": "*** ***", "extra": "***"}


@pytest.mark.parametrize(("retries", "state"), [(0, TIS.FAILED), (1, TIS.UP_FOR_RETRY)])
def test_a_failed_try_reports_masked_fields_and_error(retries: int, state: TIS) -> None:
    def fails(password: str) -> None:
        raise ValueError(f"could not log in with {password}")

    with DAG("masked_failure", schedule=None) as dag:
        PythonOperator(
            task_id="fails",
            python_callable=fails,
            retries=retries,
            retry_delay=timedelta(0),
            op_args=["{{ conn.secret_conn.password }}"],
        )
    outcome = _execute(dag, "fails")
    assert outcome.state is state
    assert outcome.rendered_fields["op_args"] == ["***"]
    assert outcome.error == "ValueError: could not log in with ***"
    _assert_no_secret([outcome.error, outcome.traceback])


def test_fields_rendered_before_a_template_error_are_masked() -> None:
    with DAG("masked_template_error", schedule=None) as dag:
        BashOperator(
            task_id="bad",
            bash_command="echo {{ var.value.my_password }}",
            env={"X": "{{ nope.nope }}"},
        )
    outcome = _execute(dag, "bad")
    assert outcome.state is TIS.FAILED
    assert outcome.rendered_fields["bash_command"] == "echo ***"
    _assert_no_secret(outcome.rendered_fields)


def test_values_become_json_data_and_long_ones_are_cut_after_masking() -> None:
    masker.add("secret-at-the-cut")
    assert rendered_fields.serialize_field("f", (1, {2}, datetime(2024, 1, 2))) == [
        1,
        [2],
        "2024-01-02 00:00:00",
    ]
    assert rendered_fields.serialize_field("f", {3: float("nan")}) == {"3": "nan"}
    long_text = "a" * (rendered_fields.MAX_LENGTH - 2) + "secret-at-the-cut" + "b" * 10
    assert (
        rendered_fields.serialize_field("f", long_text)
        == "a" * (rendered_fields.MAX_LENGTH - 2) + "**..."
    )
    cut = rendered_fields.serialize_field("f", {"text": long_text})
    assert (
        isinstance(cut, str) and len(cut) == rendered_fields.MAX_LENGTH + 3 and "secret" not in cut
    )
    assert rendered_fields.serialize_field("token", "anything") == "***"


def test_the_log_filter_and_rendered_fields_share_one_masker() -> None:
    masking.mask_connection(CONNECTIONS["secret_conn"])
    record = logging.LogRecord(
        "tradewind.task", logging.INFO, __file__, 1, "using %s", ("conn-pass/word",), None
    )
    masking.MaskingFilter().filter(record)
    assert record.getMessage() == "using ***"
    assert rendered_fields.serialize_field("f", "conn-pass%2Fword") == "***"
