"""A RabbitMQ node of the test's own, for broker settings the shared one must not get (a
``consumer_timeout`` of seconds): started from this machine's RabbitMQ install in the test's
folder, on free ports, and stopped by its process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .ports import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
EPMD_PORT = 4369


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def rabbitmq_node(folder: Path, *, consumer_timeout_ms: int) -> Iterator[str]:
    """A node whose channels time out deliveries unacknowledged for ``consumer_timeout_ms``
    (checked every second); yields its AMQP URL."""
    if not SERVER.exists():
        reason = f"no RabbitMQ install at {SERVER} to start a node of the test's own"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    if not _listening(EPMD_PORT):  # the node would start a port mapper nobody stops
        reason = "no Erlang port mapper (epmd) runs: start the machine's RabbitMQ first"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    folder.mkdir(parents=True)
    port, dist_port = free_port(), free_port()
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{port}\n"
        f"consumer_timeout = {consumer_timeout_ms}\n"
        "loopback_users = none\n"
    )
    (folder / "advanced.config").write_text("[{rabbit, [{channel_tick_interval, 1000}]}].\n")
    (folder / "enabled_plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(folder),  # its Erlang cookie goes there
        "RABBITMQ_NODENAME": f"tw{uuid.uuid4().hex[:8]}@localhost",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(folder / "pid"),
    }
    with (folder / "out.log").open("w") as out:
        node = subprocess.Popen(
            [str(SERVER)], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if node.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"the RabbitMQ node did not start:\n{(folder / 'out.log').read_text()}"
                )
            time.sleep(0.5)
        yield f"amqp://guest:guest@127.0.0.1:{port}//"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGKILL)
            node.wait(timeout=30)
