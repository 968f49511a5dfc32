"""Supervising the processes of tries (and DAG callbacks): their messages, their ends, their
time limits.

A ``TrySupervisor`` watches each child (``children.Child``) through its channel and, where it
can, a pidfd. What a child sends is decoded (``runner.message_codec``): its ``TaskDone``
becomes a ``TaskFinished`` event, its questions go to the ``RequestRelay`` (answered outside
``poll``), anything else is refused. When the process ends it is reaped (a direct child),
its outcome read from its outcome file if it could not send it, and settled: a try reports
``TaskDied`` if nothing else. ``terminate`` and ``enforce_timeouts`` stop children, SIGTERM
then SIGKILL after ``kill_grace`` seconds.

It knows nothing of how a child was started: the executor (``executors.local``) forks it or
has a launcher fork it, then ``watch``es it. A worker that runs tries elsewhere can supervise
them with the same object and answer their questions from another source.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import time
from collections.abc import Callable
from typing import Any

from tradewind.executors.base import Event, TaskDied, TaskFinished
from tradewind.executors.children import (
    STOPPABLE,
    Child,
    ChildKind,
    ChildPhase,
    describe_status,
    exit_text,
    kill_group,
    open_pidfd,
    signal_through_pidfd,
)
from tradewind.executors.forking import close_quietly
from tradewind.executors.request_relay import RequestRelay
from tradewind.runner import message_codec, outcome_files
from tradewind.runner.messages import Request, TaskDone
from tradewind.runner.protocol import ChannelClosed

log = logging.getLogger("tradewind.executor")

#: Seconds a DAG callback may run before it is killed.
CALLBACK_TIMEOUT = 300.0
#: Seconds to wait for launchers' reports of tries killed at the end.
END_REPORT_WAIT = 2.0

#: Order in which ready descriptors are handled within one ``select``: launchers' reports
#: first (a try's start comes before what the try itself sent), then channels, then ends.
FIRST, CHANNELS, EXITS, LAST = 0, 1, 2, 3

#: Handles one ready descriptor: ``handler(item)`` returns the events it caused.
Handler = Callable[[Any], list[Event]]


class TrySupervisor:
    """The children of one executor, one selector over their descriptors (and those of the
    executor's other parts, see ``watch``), and the relay for their questions."""

    def __init__(self, relay: RequestRelay, *, kill_grace: float) -> None:
        self.relay = relay
        self.kill_grace = kill_grace
        self.selector = selectors.DefaultSelector()
        self.tries: dict[int, Child] = {}
        self.callbacks: dict[int, Child] = {}
        self.guests: set[Child] = set()
        self.released: set[Child] = set()
        self.ended_callbacks: list[tuple[str, str]] = []
        #: Events that arose outside ``poll`` (a try forked directly), returned by the next.
        self.pending_events: list[Event] = []
        #: ``end`` is under way: what ends now did not get to finish.
        self.ending = False
        #: A try sent to a launcher that died before it said it forked it lost its channel.
        self.on_lost_before_start: Callable[[Child], list[Event]] = self.lost

    # -- the selector -----------------------------------------------------------------------
    def watch(self, fileobj: Any, priority: int, handler: Handler, item: Any) -> None:
        self.selector.register(fileobj, selectors.EVENT_READ, (priority, handler, item))

    def unwatch(self, fileobj: Any) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(fileobj)

    def poll(
        self, timeout: float | None, extra_fds: list[Any], deadline: float | None = None
    ) -> tuple[list[Event], list[Any]]:
        """Wait for a descriptor (or ``timeout``, or the earliest of ``deadline`` and the
        children's own), handle what is ready; the events and the ``extra_fds`` that are
        readable. Only reads: questions are held in the relay."""
        events, self.pending_events = self.pending_events, []
        extra_keys = [self.selector.register(fd, selectors.EVENT_READ, None) for fd in extra_fds]
        try:
            if events or self.relay.pending:
                timeout = 0
            if any(self._needs_polling(child) for child in self.all_watched()):
                timeout = 0.002 if timeout is None else min(timeout, 0.002)
            deadlines = [d for d in (deadline, self.next_deadline()) if d is not None]
            if deadlines:
                remaining = max(0.0, min(deadlines) - time.monotonic())
                timeout = remaining if timeout is None else min(timeout, remaining)
            ready = self.selector.select(timeout)
        finally:
            for key in extra_keys:
                self.selector.unregister(key.fileobj)
        readable_extra = [key.fileobj for key, _mask in ready if key.data is None]
        for key, _mask in sorted(
            (item for item in ready if item[0].data is not None), key=lambda item: item[0].data[0]
        ):
            _priority, handler, item = key.data
            events.extend(handler(item))
        for child in [c for c in self.all_watched() if self._needs_polling(c)]:
            events.extend(self.try_reap(child))
        self.enforce_timeouts()
        return events, readable_extra

    # -- children ---------------------------------------------------------------------------
    def running(self) -> list[Child]:
        """Tries and callbacks, the children that count as running."""
        return [*self.tries.values(), *self.callbacks.values()]

    def callback_runs(self) -> set[tuple[str, str]]:
        """(dag_id, run_id) of the DAG callbacks running."""
        return {
            (c.callback.dag_id, c.callback.run_id)
            for c in self.callbacks.values()
            if c.callback is not None
        }

    def take_ended_callbacks(self) -> list[tuple[str, str]]:
        ended, self.ended_callbacks = self.ended_callbacks, []
        return ended

    def all_watched(self) -> list[Child]:
        return [*self.running(), *self.guests, *self.released]

    def add_try(self, child: Child, time_limit: float | None) -> None:
        assert child.ti_id is not None
        if time_limit:
            child.terminate_at = child.started + time_limit
        self.tries[child.ti_id] = child
        if child.channel is not None:
            self.watch(child.channel.sock, CHANNELS, self.on_readable, child)

    def add_callback(self, child: Child) -> None:
        assert child.pid is not None
        child.terminate_at = child.started + CALLBACK_TIMEOUT
        self.callbacks[child.pid] = child
        self.watch_process(child)
        if child.channel is not None:
            self.watch(child.channel.sock, CHANNELS, self.on_readable, child)

    def watch_process(self, child: Child, pidfd: int | None = None) -> None:
        """Watch the end of its process through a pidfd (opened here unless given)."""
        if pidfd is None and child.pid is not None:
            pidfd = open_pidfd(child.pid)
        child.pidfd = pidfd
        if pidfd is not None:
            self.watch(pidfd, EXITS, self.on_exit, child)

    def close_channel(self, child: Child) -> None:
        if child.channel is None:
            return
        self.unwatch(child.channel.sock)
        self.relay.forget(child.channel)
        child.channel.close()
        child.channel = None

    def close_in_child(self) -> None:
        """In a new child: drop the selector and every child's descriptors."""
        close_quietly(self.selector)
        for child in self.all_watched():
            if child.channel is not None:
                child.channel.close()
            if child.pidfd is not None:
                close_quietly(child.pidfd)

    # -- what children send -----------------------------------------------------------------
    def on_readable(self, child: Child) -> list[Event]:
        if child.channel is None:
            return []
        try:
            frames = child.channel.receive_available()
        except (ChannelClosed, ValueError):
            self.close_channel(child)
            return self._channel_lost(child)
        return self.handle(child, frames)

    def _channel_lost(self, child: Child) -> list[Event]:
        if child.kind is ChildKind.DIRECT:
            return self.try_reap(child) if child.pidfd is None else []
        if child.kind is ChildKind.LAUNCHED:  # its launcher reports the exit
            return []
        if child.kind is ChildKind.GUEST:
            return self.finalize(child, None)
        if child.pid is None:  # sent to a launcher that died before it said it forked it
            return self.on_lost_before_start(child)
        if child.pidfd is None:  # an orphan whose beacon was not found: the channel tells
            return self.finalize(child, None)
        return []  # adopted or orphaned: its pidfd tells when it ends

    def handle(self, child: Child, frames: list[dict[str, Any]]) -> list[Event]:
        events: list[Event] = []
        if frames:
            child.heard = True
        for frame in frames:
            try:
                message = message_codec.from_frame(frame, what=child.describe())
            except ValueError as exc:
                log.warning("%s sent what cannot be read: %s", child.describe(), exc)
                if child.channel is not None:
                    self.relay.refuse(child.channel, str(exc))
                continue
            if isinstance(message, TaskDone):
                if child.is_try and child.finish():
                    assert child.ti_id is not None
                    finished = TaskFinished(child.ti_id, message)
                    if child.kind is ChildKind.LAUNCHED and child.pid is None:
                        child.held_finish = finished  # its start first: see take_held_finish
                    else:
                        events.append(finished)
            elif isinstance(message, Request):
                if child.channel is not None:
                    self.relay.hold(child.channel, message, child.describe())
            elif child.channel is not None:
                self.relay.refuse(child.channel, f"unexpected message {type(message).__name__}")
        return events

    # -- ends -------------------------------------------------------------------------------
    def on_exit(self, child: Child, status: Any = None, *, known: bool = False) -> list[Event]:
        """The process ended (its pidfd is readable, or its launcher reaped it: ``known``
        ``status``): read what it sent last, then reap it (a direct child) and settle it."""
        if child.ended:
            return []
        events: list[Event] = []
        if child.channel is not None:
            try:
                frames, _eof = child.channel.drain()
            except ValueError:
                frames = []
            events.extend(self.handle(child, frames))
            self.close_channel(child)
        if not known:
            status = None
            if child.kind is ChildKind.DIRECT:
                assert child.pid is not None
                try:
                    _pid, status = os.waitpid(child.pid, 0)
                except ChildProcessError:
                    status = None
        events.extend(self.finalize(child, status))
        return events

    def try_reap(self, child: Child) -> list[Event]:
        """Without a pidfd: collect the exit status if the process is gone."""
        assert child.pid is not None
        status: int | None
        try:
            done, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:
            done, status = child.pid, None
        if not done:
            return []
        return self.finalize(child, status)

    def finalize(
        self, child: Child, status: int | None, *, reason: str | None = None
    ) -> list[Event]:
        """Settle a child whose process ended (or that is given up on): the event of its end."""
        before = child.reap()
        if before is None:
            return []
        self.close_channel(child)
        if child.pidfd is not None:
            self.unwatch(child.pidfd)
            close_quietly(child.pidfd)
            child.pidfd = None
        if before is ChildPhase.RELEASED:
            self.released.discard(child)
            return []
        if child.kind is ChildKind.GUEST:
            self.guests.discard(child)
            return []
        if child.is_try:
            assert child.ti_id is not None
            self.tries.pop(child.ti_id, None)
            if before is ChildPhase.FINISHED:
                return take_held_finish(child)
            done = outcome_files.read_done(child.outcome_path, child.ti_id, child.try_number)
            if done is not None:  # it could not tell us, but left its outcome behind
                return [TaskFinished(child.ti_id, done)]
            if reason is None:
                reason = describe_status(status)
                if status is None and child.kind in (ChildKind.ADOPTED, ChildKind.ORPHANED):
                    reason += f" (it was {child.kind.value}, so its exit status is unknown)"
            return [TaskDied(child.ti_id, reason)]
        self._callback_ended(child, status)
        return []

    def _callback_ended(self, child: Child, status: int | None) -> None:
        if child.pid is not None:
            self.callbacks.pop(child.pid, None)
        if child.callback is not None and not self.ending:
            self.ended_callbacks.append((child.callback.dag_id, child.callback.run_id))
        if status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            log.info("%s finished", child.describe())
        else:
            log.warning(
                "%s failed (%s); see %s",
                child.describe(),
                exit_text(status),
                child.callback.log_path if child.callback else "its log",
            )

    def lost(self, child: Child) -> list[Event]:
        return self.finalize(child, None, reason="its launcher died before it said it started it")

    def release(self, ti_id: int) -> Child | None:
        """Stop supervising a try another scheduler took over (it goes on, unreported)."""
        child = self.tries.pop(ti_id, None)
        if child is None:
            return None
        child.release()
        self.close_channel(child)  # its questions go to the home's supervisor socket now
        if child.kind is ChildKind.ADOPTED or (
            child.kind is ChildKind.ORPHANED and child.pidfd is None
        ):
            self.finalize(child, None)
        else:
            self.released.add(child)  # reaped when it ends, silently
        return child

    @staticmethod
    def _needs_polling(child: Child) -> bool:
        """A direct child without a pidfd whose channel closed: reaped by polling."""
        return child.kind is ChildKind.DIRECT and child.closed and child.pidfd is None

    # -- stopping ---------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        deadlines = []
        for child in self.running():
            if child.kill_at is not None:
                deadlines.append(child.kill_at)
            elif child.terminate_at is not None:
                deadlines.append(child.terminate_at)
        return min(deadlines, default=None)

    def signal(self, child: Child, sig: int) -> None:
        """Signal the try's process group. Before its launcher reported the pid, a SIGTERM waits
        for the pid, and a SIGKILL goes to the launcher, which has stopped answering."""
        if child.pid is not None:
            if child.pidfd is not None and child.kind in (ChildKind.ADOPTED, ChildKind.ORPHANED):
                signal_through_pidfd(child.pidfd, child.pid, sig)
            else:
                kill_group(child.pid, sig)
        elif sig == signal.SIGKILL and child.launcher is not None:
            log.warning(
                "%s did not start %s in time: killing it",
                child.launcher.describe(),
                child.describe(),
            )
            child.launcher.kill()

    def stop(self, child: Child) -> None:
        """SIGTERM now, SIGKILL in ``kill_grace`` seconds."""
        self.signal(child, signal.SIGTERM)
        child.stopping(time.monotonic() + self.kill_grace)

    def kill(self, child: Child) -> None:
        self.signal(child, signal.SIGKILL)
        child.killed()

    def enforce_timeouts(self) -> None:
        now = time.monotonic()
        for child in self.running():
            if child.kill_at is not None:
                if now >= child.kill_at:
                    log.warning("%s did not stop after SIGTERM: killing it", child.describe())
                    self.kill(child)
            elif child.terminate_at is not None and now >= child.terminate_at:
                log.warning("%s ran past its time limit: terminating it", child.describe())
                self.stop(child)

    def terminate(self, ti_id: int) -> None:
        child = self.tries.get(ti_id)
        if child is None or child.kill_at is not None or child.phase not in STOPPABLE:
            return
        self.stop(child)

    def stop_all(self, grace: float, pump: Callable[[float], list[Event]]) -> list[Event]:
        """Stop every child: SIGTERM, ``grace`` seconds for them to end (``pump`` waits and
        answers their questions meanwhile), SIGKILL; the events of their ends. Launched tries
        whose launcher has not reported their end yet are left for it to report."""
        for child in self.running():
            self.signal(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        events, self.pending_events = self.pending_events, []
        while self.running() and time.monotonic() < deadline:
            events.extend(pump(min(0.1, max(0.0, deadline - time.monotonic()))))
        for child in self.running():
            if child.pid is not None:
                self.kill(child)
        for child in [c for c in self.running() if c.kind is ChildKind.DIRECT]:
            events.extend(self.on_exit(child))
        # Launchers report the ends of the tries they forked, pidfds those of the others.
        deadline = time.monotonic() + END_REPORT_WAIT
        while (
            any(c.launcher is not None or c.pidfd is not None for c in self.running())
            and time.monotonic() < deadline
        ):
            events.extend(pump(0.05))
        return events

    def settle_all(self) -> list[Event]:
        """Give up on every child whose end did not show: the events of their ends."""
        events: list[Event] = []
        for child in self.all_watched():
            events.extend(self.finalize(child, None))
        events.extend(self.pending_events)
        self.pending_events = []
        return events

    def reset(self) -> None:
        """After ``end``: a fresh selector, ready to supervise again."""
        close_quietly(self.selector)
        self.selector = selectors.DefaultSelector()
        self.ending = False


def take_held_finish(child: Child) -> list[Event]:
    """The ``TaskFinished`` held back until the try's start was reported (or given up on)."""
    held, child.held_finish = child.held_finish, None
    return [held] if held is not None else []
