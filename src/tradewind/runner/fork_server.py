"""The fork server: a fresh interpreter holding only what a try needs, which forks warm
launchers on request.

A launcher forked from the scheduler carried the scheduler's whole memory (the metastore's and
the web server's libraries, some 60 MB), and every try forked from the launcher paid for it:
in the fork, in the pages copied after it and in the exit. Forked from here, a launcher holds
a third of that, and each try costs a few milliseconds less (see ``make bench``, W2).

The executor starts it as a new interpreter (``python -c ...``, with the executor's
``sys.path``) and talks to it over a ``SOCK_SEQPACKET`` socket whose descriptor number is the
first argument. Messages are those of ``runner.messages``, framed as ``launcher_process``
sends them (each frame carries the protocol version: the server is a new interpreter, which
may have loaded a newer install than the executor's):

- server → executor, once: ``Ready`` when the modules are imported and warm;
- executor → server: ``Spawn`` with two descriptors attached: the launcher's end of its
  control socket, and a memfd holding the DAG version's source (UTF-8); its ``home_key``
  goes to the launcher's tries (``runner.beacons``);
- server → executor, in order: ``Spawned`` with a pidfd of the new launcher attached (a pidfd
  cannot point at a later process that reuses the pid), or ``SpawnFailed``;
- server → executor: ``Exited`` once a launcher ended (``os.waitpid``-style status); it is
  reaped then.

It dies with the executor (``PR_SET_PDEATHSIG``), its launchers with it (the tries they
forked go on), and it exits when the executor closes its end of the socket. An executor that
died first (its end reset) ends it quietly: that is no error of the server's.
"""

from __future__ import annotations

import contextlib
import gc
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import NoReturn

import tradewind
from tradewind.runner import launcher_process
from tradewind.runner.messages import Exited, PacketMessage, Ready, Spawn, Spawned, SpawnFailed
from tradewind.runner.parent_death import die_with_parent


def command(control_fd: int, parent_pid: int) -> list[str]:
    """The command line that starts a fork server on ``control_fd`` for ``parent_pid``."""
    code = (
        f"import sys; sys.path[:] = {list(sys.path)!r}; "
        f"from tradewind.runner.fork_server import main; main({control_fd}, {parent_pid})"
    )
    return [sys.executable, "-c", code]


def _preload() -> None:
    """Import and warm what every launcher and try uses, once, before anything is forked."""
    from tradewind.runner import parent_death, task_process  # noqa: F401 - imported to be shared
    from tradewind.sdk import templating
    from tradewind.timetables import cron_expression

    tradewind.load_authoring_api()  # what DAG files import, loaded before any launcher
    templating.preload()
    parent_death.preload()
    # A DAG with a cron schedule imports croniter and dateutil when it is built: ~13 ms of CPU
    # that every try loading its own source (a launcher of any version forks those) would pay.
    cron_expression.validate("*/5 * * * *")
    _rehearse_dag()


#: A small DAG built once here: the first DAG a process builds fills caches (signatures of
#: callables, compiled patterns) that every later one reuses: ~3 ms of CPU per try otherwise.
_REHEARSAL = """
import datetime
from tradewind import DAG, EmptyOperator, PythonOperator, task

with DAG(
    "tradewind_warm_up",
    schedule="*/5 * * * *",
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    default_args={"retries": 0},
):
    @task
    def step(value=None):
        return value

    second = PythonOperator(task_id="second", python_callable=print)
    step.override(task_id="first")() >> second >> EmptyOperator(task_id="last")
"""


def _rehearse_dag() -> None:
    from tradewind.sdk import definition_context

    try:
        exec(compile(_REHEARSAL, "<tradewind warm-up>", "exec"), {"__name__": "_tw_warm_up"})
    finally:
        definition_context.take_created_dags()
        definition_context.take_orphans()


def main(control_fd: int, parent_pid: int) -> NoReturn:
    code = 0
    try:
        signal.signal(
            signal.SIGINT, signal.SIG_IGN
        )  # a Ctrl-C is for the scheduler, which stops us
        os.setpgid(0, 0)
        die_with_parent(signal.SIGKILL, expected_parent=parent_pid)
        control = socket.socket(fileno=control_fd)
        control.set_inheritable(False)
        _preload()
        gc.freeze()  # pages of what is loaded now stay shared with every launcher and try
        launcher_process.send(control, Ready())
        _ForkServer(control).loop()
    except ConnectionError:  # the executor died first: a quiet end
        pass
    except BaseException:  # noqa: BLE001 - the last line: say why, then go
        traceback.print_exc()
        code = 1
    os._exit(code)


class _ForkServer:
    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.selector = selectors.DefaultSelector()
        self.pidfds: dict[int, int] = {}  # launcher pid -> pidfd

    def loop(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ, None)
        while True:
            for key, _mask in self.selector.select():
                try:
                    if key.data is None:
                        message, fds = launcher_process.receive(self.control, what="the executor")
                        if message is None:
                            return
                        self._on_message(message, fds)
                    else:
                        self._on_exit(key.data)
                except ConnectionError:  # the executor died: its end of the socket was reset
                    return

    def _on_message(self, message: PacketMessage, fds: list[int]) -> None:
        if not isinstance(message, Spawn) or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            launcher_process.send(
                self.control, SpawnFailed(f"unexpected request {type(message).__name__}")
            )
            return
        fileloc, dag_id, home_key = message.fileloc, message.dag_id, message.home_key
        launcher_fd, source_fd = fds
        try:
            source = _read_all(source_fd).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            os.close(launcher_fd)
            launcher_process.send(self.control, SpawnFailed(f"could not read the source: {exc}"))
            return
        finally:
            os.close(source_fd)
        server_pid = os.getpid()  # taken before the fork: the child's getppid() may already be 1
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(launcher_fd)
            launcher_process.send(self.control, SpawnFailed(f"{type(exc).__name__}: {exc}"))
            return
        if pid == 0:
            self._become_launcher(
                launcher_fd,
                str(fileloc),
                source,
                str(dag_id),
                server_pid,
                str(home_key) if home_key else None,
            )
        os.close(launcher_fd)
        pidfd = os.pidfd_open(pid)
        self.pidfds[pid] = pidfd
        self.selector.register(pidfd, selectors.EVENT_READ, pid)
        launcher_process.send(self.control, Spawned(pid), [pidfd])

    def _become_launcher(
        self,
        launcher_fd: int,
        fileloc: str,
        source: str,
        dag_id: str,
        server_pid: int,
        home_key: str | None,
    ) -> NoReturn:
        try:
            self.selector.close()
            for fd in self.pidfds.values():
                os.close(fd)
            self.control.close()
            launcher_process.serve(
                socket.socket(fileno=launcher_fd),
                fileloc,
                source,
                dag_id,
                parent_pid=server_pid,
                home_key=home_key,
            )
        finally:
            os._exit(1)

    def _on_exit(self, pid: int) -> None:
        pidfd = self.pidfds.pop(pid)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        try:
            _pid, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return
        # The executor may be gone; so are we, then, at the next select.
        with contextlib.suppress(OSError):
            launcher_process.send(self.control, Exited(pid, status))


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while True:
        chunk = os.pread(fd, 1 << 20, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)
