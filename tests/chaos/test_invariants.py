"""The chaos suite's judge on hand-made evidence: each invariant holds on a clean run and
catches the fault it is there for (a judge that cannot fail proves nothing)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.chaos import invariants

T0 = 1_000.0
RUN = ("chaos_chain", "chaos-000")


def _record(
    event: str, task_id: str, try_number: int, pid: int, at: float, ppid: int = 50
) -> dict[str, Any]:
    return {
        "event": event,
        "dag_id": RUN[0],
        "run_id": RUN[1],
        "task_id": task_id,
        "map_index": -1,
        "try_number": try_number,
        "pid": pid,
        "start": pid * 10,
        "ppid": ppid,
        "at": T0 + at,
    }


def _clean() -> dict[str, Any]:
    """One run of a one-task DAG whose only try ran once and succeeded."""
    return {
        "backend": "sqlite",
        "seed": 1,
        "t0": T0,
        "phases": {"chaos": 1.0},
        "specs": {
            RUN[0]: {
                "run_state": "success",
                "task_states": {"extract": "success"},
                "map_counts": {},
                "scheduled_runs": 0,
                "reschedule_sensors": [],
                "fails_until": {},
            }
        },
        "runs": [{"dag_id": RUN[0], "run_id": RUN[1], "state": "success", "run_type": "manual"}],
        "tis": [
            {
                "dag_id": RUN[0],
                "run_id": RUN[1],
                "task_id": "extract",
                "map_index": -1,
                "try_number": 1,
                "max_tries": 3,
                "state": "success",
            }
        ],
        "history": [
            {
                "dag_id": RUN[0],
                "run_id": RUN[1],
                "task_id": "extract",
                "map_index": -1,
                "try_number": 1,
                "state": "success",
            }
        ],
        "records": [
            _record("start", "extract", 1, 100, 1.0),
            _record("done", "extract", 1, 100, 2.0),
        ],
        "torn_records": [],
        "kills": [],
        "skipped_kills": {},
        "triggers": [
            {
                "dag_id": RUN[0],
                "run_id": RUN[1],
                "ok": True,
                "error": None,
                "at": T0,
                "seconds": 0.1,
            }
        ],
        "processes": [
            {
                "role": "scheduler",
                "number": 1,
                "ended_by": "stop",
                "exit_code": 0,
                "exit": "exit code 0",
                "log": "scheduler-1.log",
                "tracebacks": 0,
                "first_traceback": None,
            }
        ],
        "anomalies": [],
        "leftovers": [],
        "orphan_exits": {},
        "observed": {"max_concurrent_tries": 1, "processes_seen": {}},
    }


def _kill(kind: str, at: float, below: list[tuple[int, int]]) -> dict[str, Any]:
    return {
        "kind": kind,
        "victim": list(below[0]),
        "t_snap": T0 + at - 0.01,
        "t_kill": T0 + at,
        "subtree": [[pid, start, "?"] for pid, start in below],
    }


def _retried(evidence: dict[str, Any]) -> None:
    """Try 1 of extract stopped after its start, try 2 succeeded."""
    evidence["records"] = [
        _record("start", "extract", 1, 100, 1.0),
        _record("start", "extract", 2, 200, 3.0),
        _record("done", "extract", 2, 200, 4.0),
    ]
    evidence["tis"][0]["try_number"] = 2
    evidence["history"] = [
        {**evidence["history"][0], "state": "up_for_retry"},
        {**evidence["history"][0], "try_number": 2, "state": "success"},
    ]


def _violations(evidence: dict[str, Any]) -> dict[str, list[str]]:
    return invariants.analyse(evidence)["violations"]


def test_a_clean_run_breaks_no_invariant() -> None:
    report = invariants.analyse(_clean())
    assert report["violations"] == {name: [] for name in invariants.INVARIANTS}
    assert report["figures"]["try_executions"] == 1
    assert "runs_finished: ok" in invariants.summary(report)


def test_a_try_executed_by_two_processes_ran_twice() -> None:
    evidence = _clean()
    evidence["records"].insert(1, _record("start", "extract", 1, 300, 1.5))
    found = _violations(evidence)["no_try_ran_twice"]
    assert len(found) == 1 and "executed by 2 processes" in found[0]


def test_a_rescheduled_sensor_pokes_in_new_processes_but_completes_once() -> None:
    evidence = _clean()
    evidence["specs"][RUN[0]]["reschedule_sensors"] = ["extract"]
    evidence["records"][:1] = [
        _record("poke", "extract", 1, 100, 1.0),
        _record("poke", "extract", 1, 101, 1.5),
    ]
    assert _violations(evidence)["no_try_ran_twice"] == []
    evidence["records"].append(_record("done", "extract", 1, 102, 2.5))
    assert "completed 2 times" in _violations(evidence)["no_try_ran_twice"][0]


def test_a_try_beyond_the_instances_try_number_is_a_try_the_metastore_lost() -> None:
    evidence = _clean()
    evidence["records"].append(_record("start", "extract", 2, 300, 3.0))
    assert "the instance is at try 1" in _violations(evidence)["no_try_ran_twice"][0]


def test_a_completed_try_untouched_by_kills_must_be_recorded_success() -> None:
    evidence = _clean()
    evidence["history"][0]["state"] = "up_for_retry"
    evidence["tis"][0]["state"] = "up_for_retry"
    assert "recorded up_for_retry" in _violations(evidence)["no_success_lost"][0]
    evidence["kills"] = [
        _kill("scheduler", 2.1, [(1, 10), (100, 1000)])
    ]  # killed after it completed
    assert _violations(evidence)["no_success_lost"] == []


def test_a_success_nobody_completed_is_unearned() -> None:
    evidence = _clean()
    evidence["records"] = evidence["records"][:1]
    assert "no execution of it completed" in _violations(evidence)["no_success_lost"][0]


def test_an_unfinished_instance_or_run_is_stuck() -> None:
    evidence = _clean()
    evidence["tis"][0]["state"] = "queued"
    evidence["runs"][0]["state"] = "running"
    found = _violations(evidence)
    assert found["nothing_stuck"] == ["chaos_chain/chaos-000/extract left queued at try 1"]
    assert found["runs_finished"] == ["run chaos_chain/chaos-000 is still running"]


def test_runs_lost_invented_or_ending_wrong_are_caught() -> None:
    evidence = _clean()
    evidence["triggers"].append(
        {
            "dag_id": RUN[0],
            "run_id": "chaos-001",
            "ok": True,
            "error": None,
            "at": T0,
            "seconds": 0.1,
        }
    )
    evidence["runs"].append(
        {"dag_id": RUN[0], "run_id": "surprise", "state": "success", "run_type": "manual"}
    )
    evidence["runs"][0]["state"] = "failed"
    found = "\n".join(_violations(evidence)["runs_finished"])
    assert "chaos-001 was accepted but no run exists" in found
    assert "surprise was never triggered" in found
    assert "chaos-000 ended failed, expected success" in found


def test_a_try_failed_with_retries_left_is_its_own_violation_not_the_runs() -> None:
    evidence = _clean()
    evidence["runs"][0]["state"] = "failed"
    evidence["tis"][0]["state"] = evidence["history"][0]["state"] = "failed"
    evidence["records"] = evidence["records"][:1]
    found = _violations(evidence)
    assert "recorded failed with 3 retries left" in found["retries_honoured"][0]
    assert found["runs_finished"] == []


def test_a_wrong_input_or_state_is_an_incorrect_result() -> None:
    evidence = _clean()
    evidence["records"].append(_record("bad", "extract", 1, 100, 1.5))
    evidence["specs"][RUN[0]]["map_counts"] = {"extract": 2}
    found = _violations(evidence)["results_correct"]
    assert any("got a wrong input" in text for text in found)
    assert any("has 1 instances of extract, expected 2" in text for text in found)


def test_processes_that_died_alone_stopped_badly_or_stayed_are_unclean() -> None:
    evidence = _clean()
    evidence["anomalies"] = ["scheduler-2 ended by itself"]
    evidence["processes"][0]["exit_code"] = 1
    evidence["leftovers"] = [{"pid": 7, "kind": "try", "cmdline": "python"}]
    evidence["triggers"][0].update(ok=False, error="database is locked")
    assert len(_violations(evidence)["processes_clean"]) == 4


@pytest.mark.parametrize(
    ("kind", "healthy"),
    [
        ("scheduler", True),
        ("scheduler_term", True),
        ("try", False),
        ("launcher", True),
        ("fork_server", True),
    ],
)
def test_a_try_lost_with_its_scheduler_or_launcher_was_healthy_one_killed_itself_was_not(
    kind: str, healthy: bool
) -> None:
    evidence = _clean()
    _retried(evidence)
    evidence["kills"] = [_kill(kind, 2.0, [(100, 1000)])]
    found = _violations(evidence)["no_healthy_try_failed"]
    assert bool(found) == healthy
    if healthy:
        assert f"hit by {kind} kill +2.00s" in found[0]
    assert _violations(evidence)["no_success_lost"] == []


def test_a_try_forked_by_the_victim_just_after_the_snapshot_is_hit_too() -> None:
    evidence = _clean()
    _retried(evidence)
    evidence["kills"] = [
        _kill("try", 1.0, [(50, 500)])
    ]  # the try (ppid 50) started 1.0 s in, unseen
    assert _violations(evidence)["no_healthy_try_failed"] == []
    late = copy.deepcopy(evidence)
    late["kills"] = [_kill("try", 1.0 - invariants.RACE_WINDOW - 0.5, [(50, 500)])]
    assert _violations(late)["no_healthy_try_failed"]


def test_a_try_failed_on_purpose_is_not_a_healthy_try() -> None:
    evidence = _clean()
    _retried(evidence)
    evidence["specs"][RUN[0]]["fails_until"] = {"extract": 1}
    assert _violations(evidence)["no_healthy_try_failed"] == []


def test_a_try_run_again_after_its_scheduler_died_is_told_apart() -> None:
    evidence = _clean()
    evidence["records"].insert(1, _record("start", "extract", 1, 300, 0.5))
    evidence["records"].sort(key=lambda record: record["at"])
    evidence["kills"] = [_kill("try", 0.5, [(300, 3000)]), _kill("scheduler", 0.8, [(1, 10)])]
    found = _violations(evidence)
    assert found["no_try_ran_twice"] == []
    assert "executed by 2 processes" in found["no_rerun_after_scheduler_death"][0]
    evidence["kills"][1]["t_kill"] = T0 + 1.5  # the scheduler died after the second run began
    assert _violations(evidence)["no_try_ran_twice"]
