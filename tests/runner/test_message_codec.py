"""The messages between a try, its launcher, the fork server and the executor: one codec, every
message round-trips, and a peer of another protocol version is refused with both versions
named instead of being misread."""

from __future__ import annotations

import dataclasses
import json
import pickle
import struct
from pathlib import Path

import pytest

from tradewind.runner import message_codec, messages, outcome_files
from tradewind.runner.message_codec import PROTOCOL_VERSION, ProtocolMismatch
from tradewind.runner.runtime import RunInfo
from tradewind.runner.workload import TaskWorkload
from tradewind.sdk import timezone

DONE = messages.TaskDone(
    ti_id=7,
    try_number=2,
    state="success",
    start_date="2024-05-01T12:00:00+00:00",
    end_date="2024-05-01T12:00:01+00:00",
    skipped_task_ids=["b"],
    rendered_fields={"bash_command": "echo ***"},
    xcoms=[["return_value", "42"]],
)

LINE_MESSAGES = [
    messages.XComGet("d", "r", "t", -1, "return_value"),
    messages.XComGetMapped("d", "r", "t", "return_value"),
    messages.VariableGet("k"),
    messages.ConnectionGet("c"),
    messages.TriggerDagRun("d", None, "2024-05-01T00:00:00+00:00", {"a": 1}, False, True),
    messages.DagRunState("d", "r"),
    messages.TaskStates("d", ["2024-05-01T00:00:00+00:00"], ["t"], None),
    messages.Reply({"value": "41"}),
    messages.Reply.failure("nope", "already_exists"),
    DONE,
    messages.Resume(7, 2),
    messages.Resumed(1234),
]


@pytest.mark.parametrize("message", LINE_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_line_message_round_trips(message: messages.LineMessage) -> None:
    line = message_codec.encode_line(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert message_codec.decode_line(line) == message


def test_requests_keep_their_wire_form_for_the_request_handler() -> None:
    request = messages.XComGet("d", "r", "t", 3, "k")
    assert request.as_fields() == {
        "op": "xcom_get",
        "dag_id": "d",
        "run_id": "r",
        "task_id": "t",
        "map_index": 3,
        "key": "k",
    }
    assert messages.request_from_fields(request.as_fields()) == request
    with pytest.raises(ValueError, match="unknown request 'drop_table'"):
        messages.request_from_fields({"op": "drop_table"})
    with pytest.raises(ValueError, match="does not fit"):
        messages.request_from_fields({"op": "variable_get"})


def test_only_trigger_dag_run_is_not_asked_twice() -> None:
    assert [op for op, cls in messages.REQUESTS.items() if not cls.repeatable] == [
        "trigger_dag_run"
    ]


def test_the_frames_that_meet_other_releases_carry_the_version() -> None:
    for message in (DONE, messages.Resume(1, 1), messages.Resumed(1)):
        assert json.loads(message_codec.encode_line(message))["v"] == PROTOCOL_VERSION
    # A frame without a version is of version 1, the format before versions were numbered.
    assert message_codec.from_frame({"op": "resume", "ti_id": 1, "try_number": 1}) == (
        messages.Resume(1, 1)
    )


def test_a_line_of_another_protocol_version_is_refused_naming_both_versions() -> None:
    frame = {"op": "resume", "ti_id": 1, "try_number": 1, "v": PROTOCOL_VERSION + 1}
    with pytest.raises(ProtocolMismatch) as raised:
        message_codec.from_frame(frame, what="the try")
    text = str(raised.value)
    assert f"the try speaks protocol version {PROTOCOL_VERSION + 1}" in text
    assert f"this process speaks version {PROTOCOL_VERSION}" in text


def test_malformed_lines_are_errors_not_guesses() -> None:
    with pytest.raises(ValueError, match="unknown message 'explode'"):
        message_codec.from_frame({"op": "explode"})
    with pytest.raises(ValueError, match="does not fit"):
        message_codec.from_frame({"op": "done", "ti_id": 1})
    with pytest.raises(ValueError, match="not JSON"):
        message_codec.decode_line(b"{oops\n")


def _workload() -> TaskWorkload:
    run = RunInfo("d", "r", timezone.utcnow(), None, None, "manual", {})
    return TaskWorkload(1, "d", "r", "t", -1, 1, 0, "/dags/d.py", "", run, "/logs/t.log")


PACKET_MESSAGES = [
    messages.Ready(),
    messages.LoadFailed("SyntaxError: no"),
    messages.Launch(_workload()),
    messages.Started(1, 4242, timezone.utcnow()),
    messages.LaunchFailed(1, "OSError: no"),
    messages.Exited(4242, 9),
    messages.Exited(4242, None),
    messages.Reap(4242),
    messages.Spawn("/dags/d.py", "d", None),
    messages.Spawned(4243),
    messages.SpawnFailed("no"),
]


@pytest.mark.parametrize("message", PACKET_MESSAGES, ids=lambda m: type(m).__name__)
def test_every_packet_message_round_trips(message: messages.PacketMessage) -> None:
    assert message_codec.decode_packet(message_codec.encode_packet(message)) == message


def test_a_packet_of_another_version_is_refused_before_it_is_unpickled() -> None:
    body = pickle.dumps(messages.Ready())
    newer = struct.pack("!2sI", b"TW", PROTOCOL_VERSION + 1) + body
    with pytest.raises(ProtocolMismatch, match=f"version {PROTOCOL_VERSION + 1}, this process"):
        message_codec.decode_packet(newer, what="the fork server")
    # A release before the header sent bare pickles: named as such, not unpickled.
    with pytest.raises(ProtocolMismatch, match="the fork server speaks protocol version unknown"):
        message_codec.decode_packet(pickle.dumps(("ready",)), what="the fork server")
    with pytest.raises(ValueError, match="not a message"):
        message_codec.decode_packet(
            struct.pack("!2sI", b"TW", PROTOCOL_VERSION) + pickle.dumps(("ready",))
        )


def test_an_outcome_file_of_another_release_is_not_misread(tmp_path: Path, caplog) -> None:
    path = tmp_path / "7-2.json"
    path.write_bytes(message_codec.encode_line(DONE))
    assert outcome_files.read_done(path, 7, 2) == DONE
    assert outcome_files.read(path, 7, 2) == DONE.as_fields()
    assert outcome_files.read_done(path, 7, 3) is None  # another try's
    frame = {**DONE.as_fields(), "v": PROTOCOL_VERSION + 1}
    path.write_text(json.dumps(frame))
    assert outcome_files.read_done(path, 7, 2) is None
    assert f"speaks protocol version {PROTOCOL_VERSION + 1}" in caplog.text


def test_task_done_is_made_from_a_try_outcome_in_one_place() -> None:
    from tradewind.runner.task_execution import TryOutcome
    from tradewind.sdk.states import TaskInstanceState as TIS

    now = timezone.utcnow()
    outcome = TryOutcome(TIS.UP_FOR_RESCHEDULE, now, now, reschedule_date=now)
    done = messages.TaskDone.of(3, 1, outcome, [])
    assert dataclasses.asdict(done) == {
        "ti_id": 3,
        "try_number": 1,
        "state": "up_for_reschedule",
        "start_date": now.isoformat(),
        "end_date": now.isoformat(),
        "error": None,
        "reschedule_date": now.isoformat(),
        "skipped_task_ids": [],
        "rendered_fields": {},
        "xcoms": [],
    }
