"""The chaos workload's DAG files load and have the tasks their specs name; the process tree
helpers see only the processes below a given one and never signal a pid used again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chaos import process_tree, workload
from tradewind.dag_processing.source_loader import load_dag_from_source


@pytest.mark.parametrize("spec", workload.DAGS, ids=lambda spec: spec.dag_id)
def test_every_dag_file_loads_with_the_tasks_of_its_spec(
    spec: workload.DagSpec, tmp_path: Path
) -> None:
    path = tmp_path / f"{spec.dag_id}.py"
    text = workload.source(spec, tmp_path / "records", workload.scheduled_start(time.time()))
    dag = load_dag_from_source(text, str(path), spec.dag_id)
    assert set(spec.task_states) == set(dag.task_dict)
    for task_id, until in spec.fails_until.items():
        assert dag.task_dict[task_id].retries >= until or until > workload.RETRIES
    for task_id in spec.reschedule_sensors:
        assert dag.task_dict[task_id].mode == "reschedule"
    healthy = set(spec.task_states) - set(spec.fails_until)
    assert all(dag.task_dict[task_id].retries == workload.RETRIES for task_id in healthy)


def test_the_bash_record_names_the_try_and_its_process(tmp_path: Path) -> None:
    """The bash half of the records: rendered by hand as the operator would, run under a parent."""
    spec = workload.SPECS["chaos_chain"]
    text = workload.source(spec, tmp_path, 0)
    dag = load_dag_from_source(text, str(tmp_path / "chain.py"), spec.dag_id)
    command = dag.task_dict["load"].bash_command
    for name, value in (
        ("ti.dag_id", "chaos_chain"),
        ("run_id", "r1"),
        ("ti.task_id", "load"),
        ("ti.map_index", "-1"),
        ("ti.try_number", "2"),
    ):
        command = command.replace("{{ " + name + " }}", value)
    command = command.replace("sleep 1.5", "sleep 0")
    parent = subprocess.run(
        [sys.executable, "-c", f"import subprocess; subprocess.run(['bash', '-c', {command!r}])"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert parent.returncode == 0, parent.stderr
    lines = [
        json.loads(line)
        for line in (tmp_path / "chaos_chain" / "r1" / "load.-1.jsonl").read_text().splitlines()
    ]
    assert [line["event"] for line in lines] == ["start", "done"]
    assert {(line["try_number"], line["map_index"], line["ppid"]) for line in lines} == {
        (2, -1, os.getpid())
    }


def test_the_tree_holds_descendants_and_a_stale_identity_is_never_signalled() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; "
            "subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while len(process_tree.snapshot(os.getpid()).below(child.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        tree = process_tree.snapshot(os.getpid())
        grandchild = tree.below(child.pid)[1]
        assert grandchild.ppid == child.pid
        assert not process_tree.kill(
            (grandchild.pid, grandchild.start + 1)
        )  # another start: not that process
        assert process_tree.read(grandchild.pid) is not None
        assert process_tree.kill(grandchild.identity)
        assert child.wait(timeout=10) == 0
    finally:
        child.kill()
        child.wait()
