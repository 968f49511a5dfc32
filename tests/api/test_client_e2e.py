"""The official ``apache-airflow-client`` (3.x) against a real ``tradewind api-server`` with a
real ``tradewind scheduler``: list and unpause a DAG, trigger it, wait for it through the client,
read its task instances, a task's log, tries and XCom, clear the run and see it run again."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tradewind import config
from tradewind.dag_processing.manager import DagProcessor
from tradewind.services import db_admin

ac = pytest.importorskip("airflow_client.client")

DAGS = Path(__file__).parent / "dags"
TRADEWIND = str(Path(sys.executable).with_name("tradewind"))
DEADLINE = 60.0

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(what: str, check: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def server(tradewind_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A parsed DAG folder, a user, and running api-server
    and scheduler processes; yields the URL."""
    shutil.copytree(DAGS, tmp_path / "dags")
    env = {**os.environ, **tradewind_env, "TRADEWIND__CORE__DAGS_FOLDER": str(tmp_path / "dags")}
    settings = config.load(environ=env)
    engine = db_admin.open_engine(settings)
    try:
        DagProcessor(settings, engine).run_once()
    finally:
        engine.dispose()
    subprocess.run(
        [TRADEWIND, "users", "create", "-u", "ada", "-p", "pw", "-r", "User"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("api-server", "scheduler")}
    processes = {
        "api-server": subprocess.Popen(
            [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=logs["api-server"],
            stderr=subprocess.STDOUT,
        ),
        "scheduler": subprocess.Popen(
            [TRADEWIND, "scheduler"], env=env, stdout=logs["scheduler"], stderr=subprocess.STDOUT
        ),
    }
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        for name, process in processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited:\n{(tmp_path / f'{name}.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as answer:
                return json.load(answer)["scheduler"]["status"] == "healthy"
        except (urllib.error.URLError, ConnectionError):
            return False

    try:
        _wait_for("the api-server and the scheduler", up, timeout=30)
        yield url
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for handle in logs.values():
            handle.close()


def _token(url: str) -> str:
    request = urllib.request.Request(
        f"{url}/auth/token",
        data=json.dumps({"username": "ada", "password": "pw"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return str(json.load(answer)["access_token"])


def test_airflow_client_runs_a_dag(server: str) -> None:
    configuration = ac.Configuration(host=server, access_token=_token(server))
    with ac.ApiClient(configuration) as api_client:
        dags = ac.DAGApi(api_client)
        runs = ac.DagRunApi(api_client)
        instances = ac.TaskInstanceApi(api_client)

        assert ac.VersionApi(api_client).get_version().version
        listed = dags.get_dags()
        assert [dag.dag_id for dag in listed.dags] == [
            "api_example",
            "api_mapped",
        ] and listed.total_entries == 2
        assert dags.get_dag_details("api_example").params["n"]["value"] == 1
        assert [task.task_id for task in ac.TaskApi(api_client).get_tasks("api_example").tasks] == [
            "extract",
            "load",
            "transform",
        ]
        assert "api_example" in ac.DagSourceApi(api_client).get_dag_source("api_example").content
        assert ac.ImportErrorApi(api_client).get_import_errors().total_entries == 1

        assert (
            dags.patch_dag(
                "api_example", ac.DAGPatchBody(is_paused=False), update_mask=["is_paused"]
            ).is_paused
            is False
        )
        with pytest.raises(ac.exceptions.BadRequestException, match="param 'n'"):
            runs.trigger_dag_run("api_example", ac.TriggerDAGRunPostBody(conf={"n": 0}))
        run = runs.trigger_dag_run(
            "api_example", ac.TriggerDAGRunPostBody(conf={"n": 2}, note="from the client")
        )
        assert run.state == "queued" and run.note == "from the client"

        def finished() -> Any:
            current = runs.get_dag_run("api_example", run.dag_run_id)
            return current if current.state in ("success", "failed") else None

        done = _wait_for("the run to finish", finished)
        assert done.state == "success", done
        tis = instances.get_task_instances("api_example", run.dag_run_id)
        assert sorted((ti.task_id, ti.state, ti.try_number) for ti in tis.task_instances) == [
            ("extract", "success", 1),
            ("load", "success", 1),
            ("transform", "success", 1),
        ]
        log = instances.get_log("api_example", run.dag_run_id, "load", 1)
        events = [message.event for message in log.content.actual_instance]
        assert "loading" in events and "done" in events and log.continuation_token is None
        entry = ac.XComApi(api_client).get_xcom_entry(
            "api_example", "transform", run.dag_run_id, "return_value"
        )
        assert entry.actual_instance.value == 6

        cleared = runs.clear_dag_run(
            "api_example", run.dag_run_id, ac.DAGRunClearBody(dry_run=False)
        )
        assert cleared.actual_instance.state == "queued"
        again = _wait_for("the cleared run to finish", finished)
        assert again.state == "success"
        tries = instances.get_task_instance_tries("api_example", run.dag_run_id, "load")
        assert [(t.try_number, t.state) for t in tries.task_instances] == [
            (1, "success"),
            (2, "success"),
        ]
        assert instances.get_task_instance("api_example", run.dag_run_id, "load").try_number == 2

        audit = ac.EventLogApi(api_client).get_event_logs(order_by=["id"])
        assert [(e.event, e.owner) for e in audit.event_logs] == [
            ("patch_dag", "ada"),
            ("trigger_dag_run", "ada"),
            ("clear_dag_run", "ada"),
        ]
        with pytest.raises(ac.exceptions.ForbiddenException):
            ac.VariableApi(api_client).post_variable(ac.VariableBody(key="k", value="v"))
