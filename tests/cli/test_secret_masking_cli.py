"""``tasks test`` and ``dags test`` hide what a scheduled try's log hides: secrets read from
variables and connections, and values given to ``mask_secret``, in log records and prints."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tradewind.cli.dags import dags_group
from tradewind.cli.tasks import tasks_group
from tradewind.sdk.secrets_masker import masker

DAG_FILE = textwrap.dedent("""
    from tradewind import DAG, BashOperator, PythonOperator, mask_secret

    mask_secret("parse-time-secret")

    def shout(value):
        mask_secret("runtime-secret-77")
        print("printed:", value, "runtime-secret-77 parse-time-secret")
        return "ok"

    with DAG("cli_masking", schedule=None) as dag:
        BashOperator(task_id="bash", bash_command=(
            "echo {{ var.value.my_password }} {{ conn.secret_conn.password }} "
            "{{ conn.secret_conn.extra_dejson }} parse-time-secret"))
        PythonOperator(task_id="py", python_callable=shout, op_args=["{{ var.value.my_password }}"])
""")

ENV = {
    "TRADEWIND_VAR_MY_PASSWORD": "var-secret-value",
    "TRADEWIND_CONN_SECRET_CONN": json.dumps(
        {
            "conn_type": "http",
            "password": "conn-pass-word",
            "extra": {"token": "tok-abcdef", "region": "eu-west-1"},
        }
    ),
}
SECRETS = (
    "var-secret-value",
    "conn-pass-word",
    "tok-abcdef",
    "parse-time-secret",
    "runtime-secret-77",
)


@pytest.fixture(autouse=True)
def _fresh_masker() -> Iterator[None]:
    masker.reset()
    yield
    masker.reset()


@pytest.fixture
def invoke(tmp_path: Path) -> Any:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "cli_masking.py").write_text(DAG_FILE, encoding="utf-8")

    def run(group: Any, *args: str) -> Result:
        env = {
            "TRADEWIND_HOME": str(tmp_path / "home"),
            "TRADEWIND__CORE__DAGS_FOLDER": None,
            **ENV,
        }
        return CliRunner().invoke(
            group, [*args, "--dags-folder", str(folder)], env=env, catch_exceptions=False
        )

    return run


def _assert_masked(result: Result) -> str:
    output = result.stdout + result.stderr
    for secret in SECRETS:
        assert secret not in output, f"{secret!r} leaked:\n{output}"
    return output


def test_tasks_test_masks_the_log_and_what_the_task_prints(invoke: Any) -> None:
    bash = invoke(tasks_group, "test", "cli_masking", "bash")
    assert bash.exit_code == 0, bash.output
    output = _assert_masked(bash)
    assert "*** *** {'token': '***', 'region': 'eu-west-1'} ***" in output
    py = invoke(tasks_group, "test", "cli_masking", "py")
    assert py.exit_code == 0, py.output
    assert "printed: *** *** ***" in _assert_masked(py)


@pytest.mark.parametrize("output_format", ["table", "json"])
def test_dags_test_masks_the_log_and_prints(invoke: Any, output_format: str) -> None:
    result = invoke(dags_group, "test", "cli_masking", "-o", output_format)
    assert result.exit_code == 0, result.output
    output = _assert_masked(result)
    assert "printed: *** *** ***" in output and "{'token': '***', 'region': 'eu-west-1'}" in output
