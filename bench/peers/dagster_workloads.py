"""W1-W3 on Dagster, run by Dagster's own venv python; prints one JSON document on stdout.

Run as ``python dagster_workloads.py --workload W1 --n 20 --executor multiprocess --repeat 3
--warmup 1 --home DIR``. The job runs through ``dagster.execute_job`` on the instance in
``DAGSTER_HOME`` (its default SQLite storage), as a script or a sensor-less deployment would
launch it; the run's and the steps' start and end are read back from the instance: the run
record's ``start_time``/``end_time`` and each step's ``start_time``/``end_time`` in
``get_run_step_stats``, both taken from the events Dagster stores (RUN_START/RUN_SUCCESS,
STEP_START/STEP_SUCCESS).

The job is built by ``make_bench_job`` from ``BENCH_PEER_WORKLOAD``, ``BENCH_PEER_N`` and
``BENCH_PEER_EXECUTOR``: the multiprocess executor imports this file again in each step's
process and rebuilds the job there, so it must be reconstructable from the file alone.

This file imports Dagster, so it never runs in Tradewind's venv; the bench reads its output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg

JOB_NAME = "bench_job"


def noop_op(name: str, after: bool) -> dg.OpDefinition:
    @dg.op(name=name, ins={"after": dg.In(dg.Nothing)} if after else None)
    def body() -> None:
        return None

    return body


def bash_op(name: str) -> dg.OpDefinition:
    @dg.op(name=name)
    def body() -> None:
        """What a BashOperator does: ``bash -c 'echo hi'`` in a child process, output captured."""
        subprocess.run(["bash", "-c", "echo hi"], check=True, capture_output=True)

    return body


def build_job(workload: str, n: int, executor: str) -> dg.JobDefinition:
    executor_def = dg.in_process_executor if executor == "in_process" else dg.multiprocess_executor

    @dg.job(name=JOB_NAME, executor_def=executor_def)
    def bench_job() -> None:
        if workload == "W1":
            previous = None
            for i in range(n):
                op = noop_op(f"t{i:03d}", after=previous is not None)
                previous = op(previous) if previous is not None else op()
        elif workload == "W2":
            start = noop_op("start", after=False)()
            middles = [noop_op(f"p{i:03d}", after=True)(start) for i in range(n)]
            noop_op("end", after=True)(middles)
        elif workload == "W3":
            for i in range(n):
                bash_op(f"b{i:03d}")()
        else:
            raise ValueError(f"unknown workload {workload}")

    return bench_job


def make_bench_job() -> dg.JobDefinition:
    """The job named by the environment: what each step's process rebuilds (a module-level
    function, so ``dagster.reconstructable`` can point at it)."""
    return build_job(
        os.environ["BENCH_PEER_WORKLOAD"],
        int(os.environ["BENCH_PEER_N"]),
        os.environ["BENCH_PEER_EXECUTOR"],
    )


def stamp(seconds: float | None) -> str | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def read_records(instance: Any, run_id: str) -> dict[str, Any]:
    record = instance.get_run_record_by_id(run_id)
    steps = instance.get_run_step_stats(run_id)
    return {
        "run": {
            "run_id": run_id,
            "state": record.dagster_run.status.value.lower(),
            "start": stamp(record.start_time),
            "end": stamp(record.end_time),
        },
        "tasks": [
            {
                "task_id": step.step_key,
                "state": step.status.value.lower() if step.status else None,
                "start": stamp(step.start_time),
                "end": stamp(step.end_time),
            }
            for step in steps
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", required=True, choices=("W1", "W2", "W3"))
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--executor", required=True, choices=("multiprocess", "in_process"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()

    args.home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(args.home)
    os.environ["BENCH_PEER_WORKLOAD"] = args.workload
    os.environ["BENCH_PEER_N"] = str(args.n)
    os.environ["BENCH_PEER_EXECUTOR"] = args.executor
    job = dg.reconstructable(make_bench_job)

    runs = []
    with dg.DagsterInstance.get() as instance:
        for index in range(args.warmup + args.repeat):
            t0 = dt.datetime.now(dt.UTC)
            with dg.execute_job(job, instance=instance) as result:
                if not result.success:
                    raise RuntimeError(f"dagster run {result.run_id} did not succeed")
                run_id = result.run_id
            record = read_records(instance, run_id)
            record["t0"] = t0.isoformat()
            record["warmup"] = index < args.warmup
            runs.append(record)
    print(
        json.dumps(
            {
                "system": "dagster",
                "version": dg.__version__,
                "variant": args.executor,
                "workload": args.workload,
                "runs": runs,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
