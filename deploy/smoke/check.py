"""Drives the compose smoke test through the REST API (standard library only): waits for a
healthy stack, triggers the smoke DAG, and checks that every try succeeded, that each try's log
is readable, and that the tries ran where they should: each try's recorded hostname is one of
the --host names (the scheduler's host for the local executor, the workers' Celery node names,
``name@host``, for Celery), and every one of them ran some of the parallel tries."""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any


class SmokeFailure(Exception):
    """The stack did not do what the smoke test expects."""


def call(url: str, *, body: Any = None, token: str | None = None, accept: str = "") -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if accept:
        headers["Accept"] = accept
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read().decode()
    return raw if accept == "text/plain" else json.loads(raw)


def wait_for(what: str, deadline: float, probe: Any) -> Any:
    """Polls ``probe`` until it returns a truthy value; its last error is in the failure."""
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
            last = "not yet"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = exc
        time.sleep(1)
    raise SmokeFailure(f"timed out waiting for {what} (last: {last})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--dag-id", default="smoke_fanout")
    parser.add_argument(
        "--host",
        dest="hosts",
        action="append",
        required=True,
        help="a host the tries must run on (repeat it for each)",
    )
    parser.add_argument("--timeout", type=float, default=240)
    args = parser.parse_args()
    api = args.url.rstrip("/") + "/api/v2"
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()

    def healthy() -> bool:
        health = call(f"{api}/monitor/health")
        parts = ("metadatabase", "scheduler", "dag_processor")
        return all(health[part]["status"] == "healthy" for part in parts)

    wait_for("a healthy metastore, scheduler and DAG processor", deadline, healthy)
    token = call(
        args.url.rstrip("/") + "/auth/token",
        body={"username": args.username, "password": args.password},
    )["access_token"]
    wait_for(f"DAG {args.dag_id}", deadline, lambda: call(f"{api}/dags/{args.dag_id}", token=token))
    ready = time.monotonic()
    run = call(f"{api}/dags/{args.dag_id}/dagRuns", body={"logical_date": None}, token=token)
    run_url = f"{api}/dags/{args.dag_id}/dagRuns/{run['dag_run_id']}"

    def finished() -> dict[str, Any] | None:
        current = call(run_url, token=token)
        return current if current["state"] in ("success", "failed") else None

    final = wait_for(f"run {run['dag_run_id']} to finish", deadline, finished)
    done = time.monotonic()
    tries = call(f"{run_url}/taskInstances", token=token)["task_instances"]
    failed = [t["task_id"] for t in tries if t["state"] != "success"]
    if final["state"] != "success" or failed or not tries:
        raise SmokeFailure(f"run {final['state']}; task instances not successful: {failed}")
    for ti in tries:
        log = call(
            f"{run_url}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}?full_content=true",
            token=token,
            accept="text/plain",
        )
        if "smoke-marker" not in log:
            raise SmokeFailure(f"log of {ti['task_id']} lacks the task's output: {log[:500]!r}")
    expected = set(args.hosts)
    elsewhere = {t["task_id"]: t["hostname"] for t in tries if t["hostname"] not in expected}
    if elsewhere:
        raise SmokeFailure(f"tries ran on hosts other than {sorted(expected)}: {elsewhere}")
    hosts = sorted({t["hostname"] for t in tries if t["task_id"].startswith("work_")})
    if set(hosts) != expected:
        raise SmokeFailure(
            f"the parallel tries ran on {hosts} only, not on each of {sorted(expected)}"
        )
    summary = {
        "tasks": len(tries),
        "hosts": hosts,
        "seconds_to_ready": round(ready - started, 1),
        "seconds_run": round(done - ready, 1),
    }
    print("smoke check passed:", json.dumps(summary))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (SmokeFailure, urllib.error.URLError, KeyError) as exc:
        print(f"smoke check FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
