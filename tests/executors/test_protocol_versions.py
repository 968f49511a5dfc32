"""Peers of different releases fail clearly: a try of another protocol version that comes back
to a restarted scheduler is refused with both versions named, and the try says so."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from tradewind.executors.local import LocalExecutor
from tradewind.runner import beacons, message_codec, parent_link
from tradewind.runner.message_codec import PROTOCOL_VERSION
from tradewind.runner.protocol import LineChannel


def test_a_try_of_another_protocol_version_is_refused_with_both_versions(tmp_path: Path) -> None:
    executor = LocalExecutor(parallelism=1, fork_server=False)
    executor.start(lambda message: {}, home=tmp_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(beacons.supervisor_address(beacons.home_key(tmp_path)))
        channel = LineChannel(sock)
        channel.send({"op": "resume", "ti_id": 1, "try_number": 1, "v": PROTOCOL_VERSION + 1})
        sock.setblocking(False)
        deadline = time.monotonic() + 5
        replies: list[dict] = []
        while not replies:
            assert time.monotonic() < deadline, "no answer"
            executor.wait(0.05, [])
            replies = channel.receive_available()
        (reply,) = replies
        assert f"the try speaks protocol version {PROTOCOL_VERSION + 1}" in reply["error"]
        assert f"this process speaks version {PROTOCOL_VERSION}" in reply["error"]
    finally:
        sock.close()
        executor.end(grace=0.5)


def test_a_scheduler_of_another_protocol_version_is_named_by_the_try(tmp_path: Path) -> None:
    home_key = beacons.home_key(tmp_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(beacons.supervisor_address(home_key))
    listener.listen(1)
    listener.settimeout(5)
    old, other = socket.socketpair()
    link = parent_link.ParentLink(LineChannel(old), resume=parent_link.Resume(home_key, 1, 1))
    try:

        def answer() -> None:
            conn, _ = listener.accept()
            LineChannel(conn).receive()
            reply = {"op": "resumed", "pid": 1, "v": PROTOCOL_VERSION + 1}
            conn.sendall(message_codec.frame_to_line(reply))
            conn.close()

        thread = threading.Thread(target=answer)
        thread.start()
        channel, why = link._handshake()
        thread.join(5)
        assert channel is None
        assert f"the scheduler speaks protocol version {PROTOCOL_VERSION + 1}" in why
    finally:
        listener.close()
        old.close()
        other.close()
