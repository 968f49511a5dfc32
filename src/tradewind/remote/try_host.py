"""The tries of one worker, run by the local executor, answered through the execution API.

``LocalExecutor`` is what runs a try on a worker, exactly as on the scheduler's host (warm
launchers, the fork server, ``execution_timeout``, kill, secret masking), and it is
single-threaded: one thread, ``TryHost``'s, owns it. The worker's message threads hand it
tries (``run``) and wait for their ends; the host answers each try's questions with that
try's ``ExecutionClient`` (the request relay knows which try asked by its label).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import Any

from tradewind.executors.base import TaskDied, TaskFinished
from tradewind.executors.local import LocalExecutor
from tradewind.executors.request_relay import HeldRequest, RequestRelay
from tradewind.remote.execution_client import ExecutionClient
from tradewind.runner.messages import Reply
from tradewind.runner.workload import TaskWorkload

log = logging.getLogger("tradewind.remote")

#: Seconds the host waits for its tries between looking at its inbox.
POLL_SECONDS = 0.5


@dataclasses.dataclass
class HostedTry:
    """One try handed to the host; ``end`` is set once its end is known."""

    workload: TaskWorkload
    client: ExecutionClient
    ended: threading.Event = dataclasses.field(default_factory=threading.Event)
    end: TaskFinished | TaskDied | None = None


class ClientRelay(RequestRelay):
    """Answers each try's questions through the execution API with that try's token."""

    def __init__(self, clients: Callable[[str], ExecutionClient | None]) -> None:
        super().__init__()
        self.clients = clients

    def _answer(self, item: HeldRequest) -> Reply:
        client = self.clients(item.asker)
        if client is None:
            return Reply.failure(f"no running try is {item.asker}")
        try:
            return Reply(client.request(item.request.as_fields()))
        except Exception as exc:  # a failed call must not end the worker
            log.warning("Answering %r for %s failed: %s", item.request.op, item.asker, exc)
            return Reply.failure(f"{type(exc).__name__}: {exc}")


class TryHost:
    """The thread that owns the worker's ``LocalExecutor``."""

    def __init__(self, parallelism: int, *, fork_server: bool | None = None) -> None:
        self.executor = LocalExecutor(parallelism, fork_server=fork_server)
        relay = ClientRelay(self._client_of)
        self.executor.relay = relay
        self.executor.supervisor.relay = relay
        self._tries: dict[int, HostedTry] = {}
        self._labels: dict[str, HostedTry] = {}
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tradewind-try-host", daemon=True)

    def start(self) -> None:
        self.executor.start(lambda fields: {}, private_fds=[self._wake_read, self._wake_write])
        self._thread.start()

    def run(self, hosted: HostedTry) -> None:
        """Launch a try (from any thread); ``hosted.ended`` is set when it ended."""
        self._send("launch", hosted)

    def terminate(self, ti_id: int) -> None:
        """Stop a try (from any thread): it is reported failed or died."""
        self._send("terminate", ti_id)

    def terminate_all(self) -> None:
        self._send("terminate_all", None)

    def stop(self, timeout: float = 30.0) -> None:
        """End the executor (tries still running are stopped) and the thread."""
        self._send("stop", None)
        self._thread.join(timeout)

    def _send(self, command: str, value: Any) -> None:
        self._inbox.put((command, value))
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    def _client_of(self, label: str) -> ExecutionClient | None:
        hosted = self._labels.get(label)
        return hosted.client if hosted is not None else None

    # -- the host thread --------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stopped.is_set():
                self._take_commands()
                if self._stopped.is_set():
                    break
                events, _ = self.executor.wait(POLL_SECONDS, [self._wake_read])
                self.executor.answer_requests()
                self._apply(events)
        except Exception:
            log.exception("The try host failed; its tries are reported dead")
        finally:
            self._apply(self.executor.end())
            for hosted in list(self._tries.values()):
                self._ended(hosted, TaskDied(hosted.workload.ti_id, "the worker stopped"))

    def _take_commands(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_read.recv(4096):
                pass
        while True:
            try:
                command, value = self._inbox.get_nowait()
            except queue.Empty:
                return
            if command == "launch":
                self._launch(value)
            elif command == "terminate":
                self.executor.terminate(value)
            elif command == "terminate_all":
                for ti_id in list(self._tries):
                    self.executor.terminate(ti_id)
            elif command == "stop":
                self._stopped.set()

    def _launch(self, hosted: HostedTry) -> None:
        self._tries[hosted.workload.ti_id] = hosted
        self._labels[hosted.workload.describe()] = hosted
        try:
            self.executor.launch(hosted.workload)
        except Exception as exc:
            log.exception("Launching %s failed", hosted.workload.describe())
            self._ended(hosted, TaskDied(hosted.workload.ti_id, f"launch failed: {exc}"))

    def _apply(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, TaskFinished | TaskDied):
                hosted = self._tries.get(event.ti_id)
                if hosted is not None:
                    self._ended(hosted, event)

    def _ended(self, hosted: HostedTry, end: TaskFinished | TaskDied) -> None:
        self._tries.pop(hosted.workload.ti_id, None)
        self._labels.pop(hosted.workload.describe(), None)
        hosted.end = end
        hosted.ended.set()
