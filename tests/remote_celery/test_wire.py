"""The wire form of a remote try: what the scheduler encodes is what a worker decodes, through
JSON, and a message a worker cannot run is refused saying why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tradewind.remote import wire
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload


def _workload() -> TaskWorkload:
    run = RunInfo(
        dag_id="fan",
        run_id="manual__1",
        logical_date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        data_interval_start=datetime(2026, 1, 1, tzinfo=UTC),
        data_interval_end=None,
        run_type="manual",
        conf={"k": [1, 2]},
        clear_number=2,
    )
    return TaskWorkload(
        ti_id=7,
        dag_id="fan",
        run_id="manual__1",
        task_id="t",
        map_index=-1,
        try_number=3,
        max_tries=4,
        fileloc="dags/fan.py",
        source_code="print(1)",
        run=run,
        log_path="fan/t/3.log",
        sensor_start_date=datetime(2026, 1, 2, tzinfo=UTC),
        execution_timeout=12.5,
        queue="gpu",
        dag_version_id=9,
        bundle_hash="ab" * 32,
    )


def test_a_message_comes_back_equal_through_json() -> None:
    message = wire.TryMessage(_workload(), "tok", "http://api:8080/execution/")
    body = json.loads(json.dumps(wire.encode(message)))
    assert body["version"] == wire.FORMAT_VERSION
    assert wire.decode(body) == message


@pytest.mark.parametrize(
    ("mutate", "said"),
    [
        (lambda b: b.update(version=99), "format version 99"),
        (lambda b: b.pop("token"), "'token'"),
        (lambda b: b["workload"].pop("ti_id"), "lacks the field 'ti_id'"),
        (lambda b: b["workload"].update(extra=1), "unknown fields ['extra']"),
        (lambda b: b["workload"]["run"].update(logical_date="soon"), "workload.run.logical_date"),
        (lambda b: b.update(workload=[]), "'workload' must be a JSON object"),
    ],
)
def test_a_message_that_does_not_fit_is_refused_saying_what(mutate, said) -> None:
    body = json.loads(json.dumps(wire.encode(wire.TryMessage(_workload(), "tok", "http://x/"))))
    mutate(body)
    with pytest.raises(wire.BadTryMessage, match=said.replace("[", r"\[").replace("]", r"\]")):
        wire.decode(body)


def test_a_message_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(wire.BadTryMessage, match="JSON object, got list"):
        wire.decode([1])
