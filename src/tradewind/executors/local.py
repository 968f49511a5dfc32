"""``LocalExecutor``: each try in its own OS process, forked from a warm process.

A try is forked by the warm launcher of its DAG version (``executors.launchers``), which has
loaded the version's source once; launchers come from the fork server (``runner.fork_server``)
or, while it is not ready, from this process. Without a launcher the try is forked from this
process directly and loads the source itself (``executors.forking``: it holds none of this
process's descriptors).

The executor is made of parts with one job each, which it wires together:

- ``try_supervisor.TrySupervisor`` watches every try and callback: their messages, their ends
  (a pidfd, or the launcher's report, so a task killed with SIGKILL is reported at once),
  ``execution_timeout`` as a backstop to the child's own alarm, SIGTERM then SIGKILL;
- ``request_relay.RequestRelay`` holds the tries' questions until ``answer_requests``;
- ``launcher_client.LauncherClient`` sends tries to launchers and hears what they report;
- ``adoption.Adoption`` takes over the tries of a dead executor of the same home.

**Tries outlive their supervisors.** The fork server and the launchers die with this process;
the tries do not (``runner.beacons``). A try whose launcher died goes on talking over its
channel and is watched through a pidfd. A try whose scheduler died goes on alone, writes its
outcome file, and is adopted by the next executor of the same home (``adopt``, decided by the
scheduler's recovery from ``orphans``). Only ``terminate`` and ``end`` stop a try.

DAG callbacks are forked directly (``launch_callback``), outside ``parallelism``; they still
die with this process (a callback cut short runs again, see ``scheduler.job``).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tradewind
from tradewind.executors import fork_server_client
from tradewind.executors.adoption import Adoption
from tradewind.executors.base import BaseExecutor, Event, RequestHandler, TaskStarted
from tradewind.executors.children import Child, ChildKind, ChildPhase
from tradewind.executors.fork_server_client import ForkServer
from tradewind.executors.forking import Closer, close_quietly, fork_with_channel
from tradewind.executors.launcher_client import LauncherClient
from tradewind.executors.launchers import LauncherPool
from tradewind.executors.request_relay import RequestRelay
from tradewind.executors.try_supervisor import TrySupervisor
from tradewind.runner import beacons, callback_process, parent_death, task_process
from tradewind.runner.process_identity import ProcessIdentity
from tradewind.runner.protocol import LineChannel
from tradewind.runner.workload import CallbackWorkload, TaskWorkload
from tradewind.sdk import templating, timezone

log = logging.getLogger("tradewind.executor")

#: Seconds past ``execution_timeout`` before the parent stops a try whose own alarm did not.
HARD_TIMEOUT_GRACE = 10.0
#: Seconds between SIGTERM and SIGKILL when a process is stopped.
KILL_GRACE = 5.0


class LocalExecutor(BaseExecutor):
    """``parallelism`` tries at once; ``timeout_grace`` seconds past ``execution_timeout`` before
    the parent terminates a task whose own alarm did not end it; ``kill_grace`` seconds between
    SIGTERM and SIGKILL."""

    kind = "local"

    def __init__(
        self,
        parallelism: int = 32,
        *,
        timeout_grace: float = HARD_TIMEOUT_GRACE,
        kill_grace: float = KILL_GRACE,
        launchers: LauncherPool | None = None,
        fork_server: bool | None = None,
    ) -> None:
        self.parallelism = max(1, parallelism)
        self.timeout_grace = timeout_grace
        self.kill_grace = kill_grace
        self.launchers = launchers if launchers is not None else LauncherPool()
        if fork_server is None:
            fork_server = fork_server_client.supported()
        server = ForkServer() if fork_server and self.launchers.enabled else None
        self.relay = RequestRelay()
        self.supervisor = TrySupervisor(self.relay, kill_grace=kill_grace)
        self.hostname = socket.gethostname()
        self.launcher_client = LauncherClient(
            self.supervisor,
            self.launchers,
            server,
            fork_direct=self._launch_direct,
            closers=self._closers,
            time_limit=self._time_limit,
            hostname=self.hostname,
        )
        self.adoption: Adoption | None = None
        self._private_fds: list[Any] = []
        self._home_key: str | None = None

    def start(
        self,
        request_handler: RequestHandler,
        *,
        private_fds: Sequence[Any] = (),
        home: Path | None = None,
    ) -> None:
        self.relay.handler = request_handler
        self._private_fds = list(private_fds)
        tradewind.load_authoring_api()  # what DAG files import, loaded before any fork
        templating.preload()
        parent_death.preload()
        if home is not None and beacons.supported() and hasattr(os, "pidfd_open"):
            self._home_key = self.launcher_client.home_key = beacons.home_key(home)
            self.adoption = Adoption(
                self.supervisor, self._home_key, timeout_grace=self.timeout_grace
            )

    @property
    def open_slots(self) -> int:
        return self.parallelism - len(self.supervisor.tries)

    @property
    def fork_server(self) -> ForkServer | None:
        """The fork server launchers come from (None: launchers are forked here)."""
        return self.launcher_client.fork_server

    @property
    def running_ti_ids(self) -> set[int]:
        return set(self.supervisor.tries)

    @property
    def reported_ti_ids(self) -> set[int]:
        finished = ChildPhase.FINISHED
        return {ti for ti, child in self.supervisor.tries.items() if child.phase is finished}

    @property
    def running_callbacks(self) -> int:
        return len(self.supervisor.callbacks)

    @property
    def running_callback_runs(self) -> set[tuple[str, str]]:
        return self.supervisor.callback_runs()

    def take_ended_callbacks(self) -> list[tuple[str, str]]:
        return self.supervisor.take_ended_callbacks()

    # -- starting processes -----------------------------------------------------------------
    def _closers(self) -> list[Closer]:
        """What a new child of this process closes first (see ``executors.forking``)."""
        closers: list[Closer] = [
            self.supervisor.close_in_child,
            self.launcher_client.close_in_child,
        ]
        if self.adoption is not None:
            closers.append(self.adoption.close_in_child)
        closers.extend(functools.partial(close_quietly, fd) for fd in self._private_fds)
        return closers

    def _time_limit(self, workload: TaskWorkload) -> float | None:
        if not workload.execution_timeout:
            return None
        return workload.execution_timeout + self.timeout_grace

    def launch(self, workload: TaskWorkload) -> None:
        if not self.launcher_client.launch(workload):
            self._launch_direct(workload, time.monotonic())

    def _launch_direct(self, workload: TaskWorkload, started: float) -> None:
        home_key = self._home_key
        pid, sock = fork_with_channel(
            lambda channel: task_process.run(workload, channel, home_key=home_key),
            self._closers(),
        )
        child = Child.for_try(ChildKind.DIRECT, pid, LineChannel(sock), started, workload)
        self.supervisor.add_try(child, self._time_limit(workload))
        self.supervisor.watch_process(child)
        self.supervisor.pending_events.append(
            TaskStarted(workload.ti_id, pid, self.hostname, timezone.utcnow())
        )

    def launch_callback(self, workload: CallbackWorkload) -> None:
        parent_pid = os.getpid()
        pid, sock = fork_with_channel(
            lambda channel: callback_process.run(workload, channel, parent_pid=parent_pid),
            self._closers(),
        )
        child = Child(ChildKind.DIRECT, pid, LineChannel(sock), time.monotonic(), callback=workload)
        self.supervisor.add_callback(child)
        log.info("Started %s in process %d", workload.describe(), pid)

    # -- waiting ----------------------------------------------------------------------------
    def wait(self, timeout: float | None, extra_fds: list[Any]) -> tuple[list[Event], list[Any]]:
        deadline = self.adoption.next_deadline() if self.adoption is not None else None
        events, readable = self.supervisor.poll(timeout, extra_fds, deadline)
        if self.adoption is not None and self.adoption.hellos:
            self.adoption.expire_hellos()
        self.launcher_client.stop_idle()
        return events, readable

    def answer_requests(self) -> int:
        return self.relay.answer_all()

    def _pump(self, timeout: float) -> list[Event]:
        events, _ = self.wait(timeout, [])
        self.answer_requests()  # tries being stopped may still ask
        return events

    # -- tries of another executor ----------------------------------------------------------
    def orphans(self) -> dict[tuple[int, int], ProcessIdentity]:
        return self.adoption.orphans() if self.adoption is not None else {}

    def adopt(
        self,
        ti_id: int,
        try_number: int,
        identity: ProcessIdentity,
        *,
        outcome_path: str | None,
        label: str,
        time_left: float | None = None,
    ) -> bool:
        if self.adoption is None:
            return False
        return self.adoption.adopt(
            ti_id, try_number, identity, outcome_path=outcome_path, label=label, time_left=time_left
        )

    def disown(self, identity: ProcessIdentity, reason: str) -> None:
        Adoption.disown(identity, reason)

    def release(self, ti_id: int) -> None:
        child = self.supervisor.release(ti_id)
        if child is not None:
            log.warning(
                "%s was taken over by another scheduler: no longer supervised here",
                child.describe(),
            )

    # -- stopping ---------------------------------------------------------------------------
    def terminate(self, ti_id: int) -> None:
        self.supervisor.terminate(ti_id)

    def end(self, grace: float | None = None) -> list[Event]:
        supervisor = self.supervisor
        supervisor.ending = True
        events = supervisor.stop_all(self.kill_grace if grace is None else grace, self._pump)
        events.extend(self.launcher_client.end())
        events.extend(supervisor.settle_all())
        if self.adoption is not None:
            self.adoption.close()
        self.relay.answer_all()
        supervisor.reset()
        return events
