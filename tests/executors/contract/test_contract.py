"""The executor contract (``executors.base``): every executor, and every fake of one, passes
these. A fake that does not is a lie waiting to happen.

A remote executor (``Subject.remote``: the celery executor) differs in two points, by design,
and is held to what it does instead:

- its tries' questions are answered by the API server from the metastore (workers never talk
  to the scheduler), so the request handler given to ``start`` is never asked and a question
  never waits for ``answer_requests``;
- its tries outlive ``end`` (the next scheduler adopts them with ``adopt_remote``): ``end``
  reports no end of them, and an executor that adopts them reports their ends.
"""

from __future__ import annotations

import os
import signal
import time

from tests.executors.contract.conftest import Answers, Subject
from tests.executors.process_helpers import alive, wait_for
from tests.executors.test_adoption import _orphan_tries
from tradewind.executors.base import Event, TaskDied, TaskFinished, TaskStarted
from tradewind.runner import xcom_codec


def _ends(events: list[Event], ti_id: int) -> list[Event]:
    return [e for e in events if isinstance(e, (TaskFinished, TaskDied)) and e.ti_id == ti_id]


def _started(subject: Subject, ti_id: int) -> TaskStarted:
    events = wait_for(
        subject.executor,
        lambda evs: any(isinstance(e, TaskStarted) and e.ti_id == ti_id for e in evs),
    )
    return next(e for e in events if isinstance(e, TaskStarted) and e.ti_id == ti_id)


def _run_to_end(subject: Subject, ti_id: int, timeout: float = 20.0) -> list[Event]:
    """Events until the try's end, which must come exactly once (checked a moment longer)."""
    events = wait_for(subject.executor, lambda evs: bool(_ends(evs, ti_id)), timeout=timeout)
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:
        got, _ = subject.executor.wait(0.05, [])
        subject.executor.answer_requests()
        events.extend(got)
    assert len(_ends(events, ti_id)) == 1, events
    return events


def test_a_try_starts_takes_a_slot_and_reports_its_success_once(subject: Subject) -> None:
    executor = subject.executor
    slots = executor.open_slots
    executor.launch(subject.workload(1, "ok"))
    assert executor.running_ti_ids == {1} and executor.open_slots == slots - 1
    events = _run_to_end(subject, 1)
    started = [e for e in events if isinstance(e, TaskStarted)]
    assert [e.ti_id for e in started] == [1] and events.index(started[0]) < events.index(
        _ends(events, 1)[0]
    )
    (finished,) = _ends(events, 1)
    assert isinstance(finished, TaskFinished)
    assert finished.done.state == "success" and finished.done.try_number == 1
    assert finished.message["state"] == "success"  # the form the scheduler applies
    assert executor.running_ti_ids == set() and executor.open_slots == slots


def test_a_failing_try_reports_failed_or_up_for_retry(subject: Subject) -> None:
    subject.executor.launch(subject.workload(1, "fails"))
    subject.executor.launch(subject.workload(2, "fails_retried", max_tries=1))
    events = wait_for(subject.executor, lambda evs: bool(_ends(evs, 1) and _ends(evs, 2)))
    (first,), (second,) = _ends(events, 1), _ends(events, 2)
    assert isinstance(first, TaskFinished) and first.done.state == "failed"
    assert first.done.error
    assert isinstance(second, TaskFinished) and second.done.state == "up_for_retry"


def test_questions_are_answered_by_answer_requests_never_by_wait(subject: Subject) -> None:
    executor = subject.executor
    executor.launch(subject.workload(1, "asks"))
    if subject.remote:  # answered by the API server, from the XCom of ``source`` (41)
        (finished,) = _ends(_run_to_end(subject, 1), 1)
        assert isinstance(finished, TaskFinished) and finished.done.state == "success"
        assert finished.done.xcoms == [["return_value", xcom_codec.encode(42)]]
        assert subject.answers.asked == []
        return
    deadline = time.monotonic() + 2.0
    events: list[Event] = []
    while time.monotonic() < deadline:  # only ``wait``: the question waits, so does the try
        got, _ = executor.wait(0.05, [])
        events.extend(got)
    assert subject.answers.asked == [] and not _ends(events, 1)
    events = _run_to_end(subject, 1)
    (finished,) = _ends(events, 1)
    assert isinstance(finished, TaskFinished) and finished.done.state == "success"
    assert finished.done.xcoms == [["return_value", xcom_codec.encode(42)]]
    (asked,) = subject.answers.asked
    assert asked["op"] == "xcom_get" and asked["task_id"] == "source"


def test_terminate_ends_a_try(subject: Subject) -> None:
    subject.executor.launch(subject.workload(1, "block"))
    _started(subject, 1)
    time.sleep(0.2)
    subject.executor.terminate(1)
    subject.executor.terminate(999)  # unknown: ignored
    (ended,) = _ends(_run_to_end(subject, 1, timeout=10), 1)
    assert isinstance(ended, TaskDied) or ended.done.state == "failed"
    assert subject.executor.running_ti_ids == set()


def test_a_try_past_its_execution_timeout_is_ended(subject: Subject) -> None:
    subject.executor.launch(subject.workload(1, "timeout"))
    began = time.monotonic()
    (ended,) = _ends(_run_to_end(subject, 1, timeout=15), 1)
    assert isinstance(ended, TaskDied) or ended.done.state == "failed"
    assert time.monotonic() - began < 12  # its timeout (1 s) and grace, not the task's 60 s


def test_a_try_whose_process_vanishes_is_reported_dead_at_once(subject: Subject) -> None:
    subject.executor.launch(subject.workload(1, "block"))
    started = _started(subject, 1)
    time.sleep(0.2)
    subject.lose(started)
    before = time.monotonic()
    (ended,) = _ends(_run_to_end(subject, 1, timeout=5), 1)
    assert time.monotonic() - before < 2.0
    assert isinstance(ended, TaskDied) and "SIGKILL" in ended.reason


def test_end_stops_every_try_and_reports_each_end(subject: Subject) -> None:
    executor = subject.executor
    executor.launch(subject.workload(1, "block"))
    executor.launch(subject.workload(2, "block"))
    wait_for(executor, lambda evs: sum(isinstance(e, TaskStarted) for e in evs) == 2)
    time.sleep(0.2)
    events = executor.end(grace=0.5)
    if subject.remote:
        assert _ends(events, 1) == [] and _ends(events, 2) == [], events
        assert executor.running_ti_ids == set()
        _adopt_and_stop(subject, [1, 2])
        return
    assert len(_ends(events, 1)) == 1 and len(_ends(events, 2)) == 1, events
    assert executor.running_ti_ids == set()


def _adopt_and_stop(subject: Subject, ti_ids: list[int]) -> None:
    """A remote executor's successor adopts the tries still running, and stops them."""
    successor = subject.make()
    successor.start(Answers())
    try:
        for ti_id in ti_ids:
            successor.adopt_remote(ti_id, 1, started=True)
        assert successor.running_ti_ids == set(ti_ids)
        for ti_id in ti_ids:
            successor.terminate(ti_id)
        events = wait_for(
            successor, lambda evs: all(_ends(evs, ti_id) for ti_id in ti_ids), timeout=10
        )
        assert all(len(_ends(events, ti_id)) == 1 for ti_id in ti_ids), events
        assert successor.running_ti_ids == set()
    finally:
        successor.end(grace=0.5)


def test_a_restarted_executor_reports_the_events_of_new_tries(subject: Subject) -> None:
    executor = subject.executor
    executor.end(grace=0.5)
    answers = Answers()
    executor.start(answers)
    executor.launch(subject.workload(3, "asks"))
    (finished,) = _ends(_run_to_end(subject, 3), 3)
    assert isinstance(finished, TaskFinished) and finished.done.state == "success"
    asked = [] if subject.remote else ["xcom_get"]  # remote: the API server answered
    assert [message["op"] for message in answers.asked] == asked


def test_the_tries_of_a_dead_predecessor_are_adopted_and_their_ends_reported(
    subject: Subject,
) -> None:
    executor = subject.executor
    if not subject.can_adopt:  # it finds none and adopts none: recovery handles their rows
        assert executor.orphans() == {}
        return
    folder = subject.folder / "orphans"
    folder.mkdir()
    executor.end(grace=0.5)
    executor.start(subject.answers, home=folder)
    (pid,) = _orphan_tries(folder, ["sleeps"])
    try:
        found = executor.orphans()
        assert [identity.pid for identity in found.values()] == [pid]
        ((ti_id, try_number), identity) = next(iter(found.items()))
        assert executor.adopt(
            ti_id,
            try_number,
            identity,
            outcome_path=str(folder / "outcomes" / f"{ti_id}-1.json"),
            label="an orphan",
        )
        assert executor.running_ti_ids == {ti_id} and executor.orphans() == {}
        os.kill(pid, signal.SIGKILL)
        (ended,) = _ends(_run_to_end(subject, ti_id, timeout=10), ti_id)
        assert isinstance(ended, TaskDied)
        assert executor.running_ti_ids == set()
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
