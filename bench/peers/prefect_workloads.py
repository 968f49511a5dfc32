"""W1-W3 on Prefect 3, run by Prefect's own venv python; prints one JSON document on stdout.

Run as ``python prefect_workloads.py --workload W1 --n 20 --runner threads --repeat 3
--warmup 1 --home DIR``. It starts ``prefect server start`` (the local server a user runs,
SQLite under ``PREFECT_HOME``), calls the flow once per repetition as a user's script does, and
reads the flow run and its task runs back from the server's API: their ``start_time`` and
``end_time`` are what Prefect records from the runs' state changes.

Tasks are submitted to the flow's task runner (``.submit`` with ``wait_for`` for the
dependencies), so the runner under test executes every task: ``threads`` is Prefect's default
``ThreadPoolTaskRunner``, ``processes`` its ``ProcessPoolTaskRunner`` (spawned worker
processes, reused from task to task).

This file imports Prefect, so it never runs in Tradewind's venv; the bench reads its output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

SERVER_TIMEOUT = 120.0
RECORDS_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    """``prefect server start`` in its own process group, its output in ``home/server.log``."""
    log = (home / "server.log").open("ab")
    prefect = Path(sys.executable).parent / "prefect"
    return subprocess.Popen(
        [str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_healthy(server: subprocess.Popen[bytes], url: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < SERVER_TIMEOUT:
        if server.poll() is not None:
            raise RuntimeError(f"prefect server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prefect server not healthy after {SERVER_TIMEOUT:g} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def flush_to_server() -> None:
    """Ship the logs and events still queued while the server is up (at exit they would be
    retried against a stopped server for a minute)."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


# Task bodies live at module level: the process runner pickles them into spawned workers.
def noop() -> None:
    return None


def echo_hi() -> None:
    """What a BashOperator does: ``bash -c 'echo hi'`` in a child process, output captured."""
    subprocess.run(["bash", "-c", "echo hi"], check=True, capture_output=True)


def build_flow(workload: str, n: int, runner_name: str) -> Any:
    from prefect import flow, task
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    runner = ProcessPoolTaskRunner() if runner_name == "processes" else ThreadPoolTaskRunner()
    noop_task = task(noop)
    bash_task = task(echo_hi)

    def named(base: Any, name: str) -> Any:
        return base.with_options(name=name, task_run_name=name)

    if workload == "W1":
        names = [f"t{i:03d}" for i in range(n)]

        def body() -> None:
            previous = None
            for name in names:
                previous = named(noop_task, name).submit(
                    wait_for=[previous] if previous is not None else None
                )
            previous.result()

    elif workload == "W2":
        names = [f"p{i:03d}" for i in range(n)]

        def body() -> None:
            start = named(noop_task, "start").submit()
            middles = [named(noop_task, name).submit(wait_for=[start]) for name in names]
            named(noop_task, "end").submit(wait_for=middles).result()

    elif workload == "W3":
        names = [f"b{i:03d}" for i in range(n)]

        def body() -> None:
            futures = [named(bash_task, name).submit() for name in names]
            for future in futures:
                future.result()

    else:
        raise SystemExit(f"unknown workload {workload}")
    return flow(name=f"bench_{workload.lower()}", task_runner=runner)(body)


def iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def read_records(flow_run_id: Any, expected: int) -> dict[str, Any]:
    """The flow run and its task runs as the server stored them; task runs are written from
    events, so wait until all are there and finished."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + RECORDS_TIMEOUT
    with get_client(sync_client=True) as client:
        while True:
            flow_run = client.read_flow_run(flow_run_id)
            task_runs = []
            while True:
                page = client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                    limit=200,
                    offset=len(task_runs),
                )
                task_runs.extend(page)
                if len(page) < 200:
                    break
            done = [tr for tr in task_runs if tr.end_time is not None]
            if flow_run.end_time is not None and len(done) >= expected:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"prefect: {len(done)} of {expected} task runs finished in the API after "
                    f"{RECORDS_TIMEOUT:g} s (flow run end_time {flow_run.end_time})"
                )
            time.sleep(0.2)
    return {
        "run": {
            "run_id": str(flow_run.id),
            "state": flow_run.state_type.value.lower() if flow_run.state_type else None,
            "start": iso(flow_run.start_time),
            "end": iso(flow_run.end_time),
        },
        "tasks": [
            {
                "task_id": tr.name,
                "state": tr.state_type.value.lower() if tr.state_type else None,
                "start": iso(tr.start_time),
                "end": iso(tr.end_time),
            }
            for tr in task_runs
        ],
    }


def expected_tasks(workload: str, n: int) -> int:
    return n + 2 if workload == "W2" else n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", required=True, choices=("W1", "W2", "W3"))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--runner", required=True, choices=("threads", "processes"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()

    args.home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    os.environ["PREFECT_HOME"] = str(args.home)
    os.environ["PREFECT_API_URL"] = api_url
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")

    server = start_server(args.home, port)
    try:
        ready = wait_healthy(server, api_url)
        import prefect

        the_flow = build_flow(args.workload, args.n, args.runner)
        runs = []
        for index in range(args.warmup + args.repeat):
            t0 = dt.datetime.now(dt.UTC)
            state = the_flow(return_state=True)
            if not state.is_completed():
                raise RuntimeError(f"prefect flow run ended {state.type}: {state.message}")
            record = read_records(
                state.state_details.flow_run_id, expected_tasks(args.workload, args.n)
            )
            record["t0"] = t0.isoformat()
            record["warmup"] = index < args.warmup
            runs.append(record)
        print(
            json.dumps(
                {
                    "system": "prefect",
                    "version": prefect.__version__,
                    "variant": args.runner,
                    "workload": args.workload,
                    "server_ready_s": ready,
                    "runs": runs,
                }
            )
        )
    finally:
        flush_to_server()
        stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
