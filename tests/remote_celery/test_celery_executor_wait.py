"""The celery executor's wait lasts its whole timeout unless something comes, so the scheduler
makes its idle passes: those start runs triggered where no wake-up reaches it (an API server
in another container or on another machine)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.conftest import TRADEWIND

from tradewind import config
from tradewind.executors.celery_executor import MAX_QUIET_SECONDS, CeleryExecutor

from .brokers import REDIS_URL, require
from .conftest import SECRET


def _no_requests(message: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"no request expected: {message}")


@pytest.fixture
def executor(tradewind_env: dict[str, str]) -> Iterator[CeleryExecutor]:
    require(REDIS_URL)
    settings = config.load(
        environ={
            **tradewind_env,
            "TRADEWIND__CORE__EXECUTOR": "celery",
            "TRADEWIND__CELERY__BROKER_URL": REDIS_URL,
            "TRADEWIND__API_AUTH__JWT_SECRET": SECRET,
        }
    )
    executor = CeleryExecutor(settings)
    executor.start(_no_requests)
    try:
        yield executor
    finally:
        executor.end(grace=1)
        executor.engine.dispose()


def test_a_wait_with_nothing_to_report_lasts_its_whole_timeout(executor: CeleryExecutor) -> None:
    timeout = MAX_QUIET_SECONDS + 1.0
    started = time.monotonic()
    events, readable = executor.wait(timeout, [])
    waited = time.monotonic() - started
    assert (events, readable) == ([], [])
    assert timeout - 0.05 <= waited < timeout + 1.0


def test_a_readable_descriptor_ends_the_wait_at_once(executor: CeleryExecutor) -> None:
    reader, writer = socket.socketpair()
    poke = threading.Timer(0.3, writer.send, args=(b"!",))
    try:
        started = time.monotonic()
        poke.start()
        events, readable = executor.wait(30.0, [reader])
        waited = time.monotonic() - started
    finally:
        poke.cancel()
        reader.close()
        writer.close()
    assert (events, readable) == ([], [reader])
    assert waited < MAX_QUIET_SECONDS


DAG = """
    from tradewind import DAG, PythonOperator

    with DAG("quiet", schedule=None) as dag:
        PythonOperator(task_id="t", python_callable=lambda: 42)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_run_triggered_without_a_wake_up_runs(celery_deployment: Any, tmp_path: Path) -> None:
    d = celery_deployment
    d.write("quiet.py", DAG)
    d.parse()
    d.start_api()
    d.start_worker("w1")
    d.start("scheduler")

    def ended(run_id: str) -> dict[str, Any]:
        return d.wait_for(
            lambda: (s := d.states("quiet", run_id)) and s["state"] in ("success", "failed") and s,
            60,
            f"run {run_id} to end",
            interval=0.5,
        )

    # A first run, triggered beside the scheduler, passes its start-up passes.
    assert d.cli("dags", "trigger", "quiet", "--run-id", "r0").returncode == 0
    assert ended("r0")["state"] == "success"
    # Another home: its wake-up datagram reaches no scheduler, as from another machine.
    elsewhere = {**d.env, "TRADEWIND_HOME": str(tmp_path / "elsewhere")}
    trigger = subprocess.run(
        [TRADEWIND, "dags", "trigger", "quiet", "--run-id", "r1"],
        env=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert trigger.returncode == 0, trigger.stderr
    assert ended("r1")["state"] == "success"
