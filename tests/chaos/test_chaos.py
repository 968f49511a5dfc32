"""Kill -9 at random moments the scheduler, the DAG processor, the fork server, launchers and
tries while a mixed workload runs, on SQLite and on PostgreSQL; afterwards every run
finished, no try ran twice, no success was lost, no task is stuck (see ``invariants``).

One chaos run per backend (``conftest.chaos_report``); each test judges one invariant of it.
``make test`` runs a short one (``CHAOS_DURATION`` 25 s of kills); ``make chaos`` a long one.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chaos.driver import KILL_WEIGHTS
from tests.chaos.settings import KNOWN_TO_FAIL, RUN_TIMEOUT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(RUN_TIMEOUT + 120)]


def _holds(report: dict[str, Any], invariant: str) -> None:
    seed = report.get("seed")
    where = f"seed {seed} (CHAOS_SEED={seed} replays it), files in {report.get('workdir')}"
    assert "error" not in report, f"the chaos run did not complete ({where}):\n{report['error']}"
    found = report["violations"][invariant]
    shown = "\n".join(f"- {text}" for text in found[:25])
    more = f"\n(and {len(found) - 25} more)" if len(found) > 25 else ""
    assert not found, (
        f"{invariant}: {len(found)} violation(s) on {report['backend']}, {where}:\n{shown}{more}"
    )


def _known(invariant: str) -> pytest.MarkDecorator:
    """xfail while the invariant is known not to hold (``settings.KNOWN_TO_FAIL``)."""
    return pytest.mark.xfail(
        invariant in KNOWN_TO_FAIL, reason=KNOWN_TO_FAIL.get(invariant, ""), strict=False
    )


def test_every_run_finished_as_its_dag_must(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "runs_finished")


def test_no_task_instance_left_unfinished(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "nothing_stuck")


def test_no_try_ran_twice(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "no_try_ran_twice")


@_known("no_rerun_after_scheduler_death")
def test_a_try_started_before_its_scheduler_died_does_not_run_again_as_the_same_try(
    chaos_report: dict[str, Any],
) -> None:
    _holds(chaos_report, "no_rerun_after_scheduler_death")


def test_no_success_lost_and_none_unearned(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "no_success_lost")


@_known("retries_honoured")
def test_a_killed_try_is_retried_while_it_has_retries(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "retries_honoured")


def test_every_task_got_its_inputs_and_ended_as_expected(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "results_correct")


def test_processes_never_died_by_themselves_and_stopped_cleanly(
    chaos_report: dict[str, Any],
) -> None:
    _holds(chaos_report, "processes_clean")


def test_the_kills_reached_every_kind_of_victim_and_running_tries(
    chaos_report: dict[str, Any],
) -> None:
    """Kills that all missed (nothing running to kill) would prove nothing."""
    assert "error" not in chaos_report, chaos_report["error"]
    figures = chaos_report["figures"]
    assert set(KILL_WEIGHTS) <= set(figures["kills"]), figures["kills"]
    assert sum(figures["executions_hit_by_kills"].values()) >= 3, figures["executions_hit_by_kills"]


@_known("no_healthy_try_failed")
def test_no_healthy_try_failed(chaos_report: dict[str, Any]) -> None:
    _holds(chaos_report, "no_healthy_try_failed")
