"""One chaos run, in a process of its own:
``python -m tests.chaos.driver --backend sqlite --workdir DIR [--seed N] [--duration S]``.

It writes the workload into a fresh DAG folder, starts ``tradewind dag-processor`` and
``tradewind scheduler`` on a fresh home and metastore, triggers a burst of runs and keeps
triggering now and then, and for ``--duration`` seconds SIGKILLs a random victim at random
moments: the scheduler (or stops it with SIGTERM), the DAG processor, the fork server, a
launcher or a try. A killed scheduler or DAG processor is started again after a random pause.
Then nothing is killed any more: it waits until every run has finished, stops both processes
with SIGTERM, and writes ``evidence.json`` (metastore rows, task records, kills, processes)
and ``report.json`` (the invariants' violations and the figures, see ``invariants``).

Every random choice (victims, moments, pauses, triggers) comes from generators seeded with
``--seed``, printed first: the same seed replays the same schedule (the system's timing
still differs from one run to the next). It runs as a process of its own because it must be
the reaper of everything it starts (``deployment``).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import random
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import click

from tests.chaos import evidence, invariants, process_tree, workload
from tests.chaos.deployment import Deployment, Started, become_subreaper
from tradewind.cli.main import cli

#: Relative odds of each kind of victim (each kind is hit at least once first, in random order).
KILL_WEIGHTS = {
    "scheduler": 3.0,
    "scheduler_term": 1.0,
    "dag_processor": 1.5,
    "fork_server": 1.0,
    "launcher": 2.0,
    "try": 4.5,
}
#: Seconds before a killed scheduler or DAG processor is started again (uniform).
RESTART_DELAY = (0.1, 2.0)
#: Seconds a scheduler or DAG processor runs before it may be killed again (uniform, per start).
MIN_UPTIME = (0.3, 3.0)
#: Longest a drawn kind of victim is waited for (none may exist: the scheduler is restarting).
KIND_PATIENCE = 5.0
#: Longest a scheduler may take to stop after SIGTERM before it counts as hung.
STOP_TIMEOUT = 60.0
TICK = 0.05


@dataclasses.dataclass(frozen=True)
class Options:
    backend: str
    workdir: Path
    db_url: str | None = None
    seed: int = 0
    #: Seconds of killing.
    duration: float = 25.0
    #: Mean seconds between kills.
    kill_interval: float = 1.2
    #: Runs triggered at once at the start; then one every ``trigger_interval`` s on average.
    burst: int = 16
    trigger_interval: float = 2.0
    #: Longest wait for every run to finish once the killing stopped.
    settle_timeout: float = 120.0


class ChaosRun:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.rng = random.Random(options.seed)
        self.trigger_rng = random.Random(f"{options.seed}/triggers")
        work = options.workdir
        self.home, self.dags, self.records = work / "home", work / "dags", work / "records"
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "TRADEWIND_HOME": str(self.home),
            "TRADEWIND__CORE__DAGS_FOLDER": str(self.dags),
            "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
            "TRADEWIND__DAG_PROCESSOR__REFRESH_INTERVAL": "1",
        }
        if options.db_url:
            env["TRADEWIND__DATABASE__URL"] = options.db_url
        self.env = env
        self.deployment = Deployment(env, work / "processes")
        self.kills: list[dict[str, Any]] = []
        self.skipped_kills: collections.Counter[str] = collections.Counter()
        self.triggers: list[dict[str, Any]] = []
        self.anomalies: list[str] = []
        self.phases: dict[str, float] = {}
        #: Every process seen below this one: (pid, start) -> kind, first and last seen.
        self.seen: dict[tuple[int, int], dict[str, Any]] = {}
        self.kinds: dict[int, str] = {}
        self.tree = process_tree.snapshot(os.getpid())
        self.max_tries = 0
        self.restart_delay: dict[str, float] = {}
        self.term_sent: dict[int, float] = {}
        self.noted_exits: set[int] = set()
        self.min_uptime: dict[int, float] = {}
        self.leftovers: list[dict[str, Any]] = []
        self.settling = False
        self.stopping = False
        self._plan = self._first_rounds()
        self._pending_kind: str | None = None
        self._stop_triggers = threading.Event()
        self.t0 = time.time()

    # -- processes ----------------------------------------------------------------------------
    def _start(self, role: str) -> Started:
        command = {"scheduler": ("scheduler",), "dag_processor": ("dag-processor",)}[role]
        return self.deployment.start(role, *command)

    def _keep_running(self) -> None:
        """Start the scheduler and the DAG processor
        again once they ended and their pause passed."""
        now = time.time()
        for role in ("scheduler", "dag_processor"):
            if self.stopping or self.deployment.running(role) is not None:
                continue
            last = next((s for s in reversed(self.deployment.started) if s.role == role), None)
            if last is not None and last.ended_by is None and last.pid not in self.noted_exits:
                self.anomalies.append(
                    f"{role}-{last.number} (pid {last.pid}) ended by itself: "
                    f"{last.to_json()['exit']}; see {last.log_path}"
                )
                self.noted_exits.add(last.pid)
            ended_at = last.ended_at if last is not None and last.ended_at is not None else 0.0
            delay = 0.0 if self.settling else self.restart_delay.get(role, 1.0)
            if now >= ended_at + delay:
                self._start(role)
        for started in self.deployment.started:
            sent = self.term_sent.get(started.pid)
            if started.running and sent is not None and now - sent > STOP_TIMEOUT:
                self.anomalies.append(
                    f"{started.role}-{started.number} (pid {started.pid}) did not stop within "
                    f"{STOP_TIMEOUT:.0f} s of SIGTERM; killed; see {started.log_path}"
                )
                self.deployment.signal(started, signal.SIGKILL, "kill")
                del self.term_sent[started.pid]

    def _observe(self) -> None:
        """Snapshot the tree below this process and name what each process is."""
        self.tree = tree = process_tree.snapshot(os.getpid())
        roles = {s.pid: s.role for s in self.deployment.started if s.running}
        kinds: dict[int, str] = {}
        now = time.time()
        queue = list(tree.kids.get(tree.root, []))
        while queue:
            pid = queue.pop(0)
            proc = tree.procs[pid]
            known = self.seen.get(proc.identity)
            if known is not None and known["kind"] != "scheduler_child":
                kind = known["kind"]
            elif pid in roles:
                kind = roles[pid]
            else:
                kind = _kind_below(kinds.get(proc.ppid, "driver"), pid, tree)
            kinds[pid] = kind
            if known is None:
                known = self.seen[proc.identity] = {"kind": kind, "ppid": proc.ppid, "first": now}
            known["kind"] = kind
            known["last"] = now
            queue.extend(tree.kids.get(pid, []))
        self.kinds = kinds
        self.max_tries = max(
            self.max_tries,
            sum(1 for pid, kind in kinds.items() if kind == "try" and tree.procs[pid].alive),
        )

    def tick(self) -> None:
        self.deployment.reap()
        self._keep_running()
        self._observe()

    # -- killing ------------------------------------------------------------------------------
    def _candidates(self, kind: str) -> list[process_tree.Proc]:
        if kind in ("scheduler", "scheduler_term", "dag_processor"):
            role = "dag_processor" if kind == "dag_processor" else "scheduler"
            started = self.deployment.running(role)
            if started is None or started.ended_by is not None:
                return []
            # Each incarnation gets some time to work first (drawn once, when first asked).
            uptime = self.min_uptime.setdefault(started.pid, self.rng.uniform(*MIN_UPTIME))
            if time.time() - started.started_at < uptime:
                return []
            proc = self.tree.procs.get(started.pid)
            return [proc] if proc is not None and proc.alive else []
        return sorted(
            (
                proc
                for pid, proc in self.tree.procs.items()
                if self.kinds.get(pid) == kind and proc.alive
            ),
            key=lambda proc: proc.identity,
        )

    def _first_rounds(self) -> list[str]:
        """Every kind of victim once, in random order, the two scheduler kinds apart (after
        each, what runs below the scheduler is gone for a while): popped from the end."""
        below = [kind for kind in KILL_WEIGHTS if kind not in ("scheduler", "scheduler_term")]
        self.rng.shuffle(below)
        first, second = self.rng.sample(["scheduler", "scheduler_term"], 2)
        half = len(below) // 2
        return [*below[:half], first, *below[half:], second][::-1]

    def _next_kind(self) -> str:
        if self._plan:
            return self._plan.pop()
        kinds = list(KILL_WEIGHTS)
        return self.rng.choices(kinds, weights=[KILL_WEIGHTS[k] for k in kinds])[0]

    def kill_due(self, since: float) -> bool:
        """Kill a victim of the kind drawn for this moment (the first moment one exists, within
        ``KIND_PATIENCE`` s of ``since``); False while waiting for one."""
        if self._pending_kind is None:
            self._pending_kind = self._next_kind()
        kind = self._pending_kind
        candidates = self._candidates(kind)
        if not candidates:
            if time.time() - since < KIND_PATIENCE:
                return False
            self._pending_kind = None
            self.skipped_kills[kind] += 1
            if not any(kill["kind"] == kind for kill in self.kills):
                self._plan.insert(0, kind)  # a kind never hit yet comes again later
            print(
                f"[{time.time() - self.t0:7.2f}] no {kind} to kill for {KIND_PATIENCE:.0f} s",
                flush=True,
            )
            return True
        self._pending_kind = None
        self._kill(kind, candidates)
        return True

    def _kill(self, kind: str, candidates: list[process_tree.Proc]) -> None:
        victim = self.rng.choice(candidates)
        tree = process_tree.snapshot(os.getpid())
        t_snap = time.time()
        kinds = self.kinds
        subtree = [
            [proc.pid, proc.start, kinds.get(proc.pid, "?")] for proc in tree.below(victim.pid)
        ]
        role = {
            "scheduler": "scheduler",
            "scheduler_term": "scheduler",
            "dag_processor": "dag_processor",
        }.get(kind)
        delivered = True
        if role is not None:
            started = self.deployment.running(role)
            assert started is not None
            self.restart_delay[role] = self.rng.uniform(*RESTART_DELAY)
            if kind == "scheduler_term":
                self.deployment.signal(started, signal.SIGTERM, "term")
                self.term_sent[started.pid] = time.time()
            else:
                self.deployment.signal(started, signal.SIGKILL, "kill")
        else:
            delivered = process_tree.kill(victim.identity)
        if not delivered:
            self.skipped_kills[kind] += 1
            return
        self.kills.append(
            {
                "kind": kind,
                "victim": [victim.pid, victim.start],
                "t_snap": t_snap,
                "t_kill": time.time(),
                "subtree": subtree,
            }
        )
        print(
            f"[{time.time() - self.t0:7.2f}] killed {kind} {victim.pid} ({len(subtree) - 1} below "
            "it)",
            flush=True,
        )

    # -- triggering -----------------------------------------------------------------------------
    def trigger(self, dag_id: str, number: int) -> None:
        """``tradewind dags trigger`` through the CLI's own command, in this process (an interpreter
        per trigger would cost a second of CPU each)."""
        run_id = f"chaos-{number:03d}"
        began = time.time()
        error = None
        try:
            cli.main(
                args=["dags", "trigger", dag_id, "--run-id", run_id],
                prog_name="tradewind",
                standalone_mode=False,
            )
        except click.ClickException as exc:
            error = exc.format_message()
        except SystemExit as exc:
            error = None if exc.code in (0, None) else f"exit {exc.code}"
        except Exception as exc:  # noqa: BLE001 - recorded as evidence
            error = f"{type(exc).__name__}: {exc}"
        self.triggers.append(
            {
                "dag_id": dag_id,
                "run_id": run_id,
                "ok": error is None,
                "error": error,
                "at": began,
                "seconds": time.time() - began,
            }
        )

    def _trigger_loop(self) -> None:
        number = 0
        for number in range(self.options.burst):
            self.trigger(workload.TRIGGERED[number % len(workload.TRIGGERED)], number)
        while not self._stop_triggers.wait(
            self.trigger_rng.expovariate(1 / self.options.trigger_interval)
        ):
            number += 1
            self.trigger(self.trigger_rng.choice(workload.TRIGGERED), number)

    def _bump_version(self, dag_id: str) -> None:
        """Change a DAG file, so a new DAG version appears mid-run (runs keep theirs)."""
        with (self.dags / f"{dag_id}.py").open("a", encoding="utf-8") as handle:
            handle.write(f"# changed at {time.time() - self.t0:.1f} s\n")

    # -- phases ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        options = self.options
        print(
            f"chaos: backend {options.backend}, seed {options.seed} (CHAOS_SEED={options.seed} "
            f"replays it), {options.duration:.0f} s of kills, workdir {options.workdir}",
            flush=True,
        )
        become_subreaper()
        os.environ.update(self.env)
        workload.write_dags(self.dags, self.records, time.time())
        migrate = self.deployment.run("db", "migrate")
        if migrate.status != 0:
            raise RuntimeError(f"tradewind db migrate failed; see {migrate.log_path}")
        self.metastore = evidence.Metastore(self.env)
        try:
            self._start("dag_processor")
            self._start("scheduler")
            self._wait(
                lambda: self.metastore.dag_ids() >= set(workload.SPECS),
                120,
                "the DAGs to be parsed",
            )
            self.phases["startup"] = time.time() - self.t0
            self._chaos()
            self._settle()
            self._stop()
            collected = evidence.collect(self)
        finally:
            self.metastore.dispose()
        report = invariants.analyse(collected)
        (options.workdir / "evidence.json").write_text(json.dumps(collected, indent=1, default=str))
        (options.workdir / "report.json").write_text(json.dumps(report, indent=1, default=str))
        print(invariants.summary(report), flush=True)
        return report

    def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.time() + timeout
        while not predicate():
            if time.time() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
            self.tick()
            time.sleep(0.2)

    def _chaos(self) -> None:
        began = time.time()
        end = began + self.options.duration
        triggers = threading.Thread(target=self._trigger_loop, name="triggers", daemon=True)
        triggers.start()
        next_kill = began + self.rng.expovariate(1 / self.options.kill_interval)
        # New DAG versions now and then: at 30 % and 60 % of the time, and every minute.
        times = sorted(
            {
                0.3 * self.options.duration,
                0.6 * self.options.duration,
                *range(60, int(self.options.duration), 60),
            }
        )
        bumps = [(began + at, ("chaos_chain", "chaos_fan")[n % 2]) for n, at in enumerate(times)]
        while time.time() < end:
            self.tick()
            now = time.time()
            if now >= next_kill and self.kill_due(since=next_kill):
                next_kill = now + self.rng.expovariate(1 / self.options.kill_interval)
            if bumps and now >= bumps[0][0]:
                self._bump_version(bumps.pop(0)[1])
            time.sleep(TICK)
        self._stop_triggers.set()
        while triggers.is_alive():
            self.tick()
            triggers.join(TICK)
        self.phases["chaos"] = time.time() - began

    def _settle(self) -> None:
        began = time.time()
        self.settling = True
        deadline = began + self.options.settle_timeout
        expected = [t["run_id"] for t in self.triggers if t["ok"]]
        next_look = 0.0
        while time.time() < deadline:
            self.tick()
            if time.time() >= next_look:
                if self.metastore.settled(expected):
                    break
                next_look = time.time() + 0.5
            time.sleep(TICK)
        else:
            self.anomalies.append(
                f"not settled {self.options.settle_timeout:.0f} s after the last kill"
            )
        self.phases["settle"] = time.time() - began

    def _stop(self) -> None:
        began = time.time()
        self.stopping = True
        for role in ("scheduler", "dag_processor"):
            started = self.deployment.running(role)
            if started is not None:
                self.deployment.signal(started, signal.SIGTERM, "stop")
                self.term_sent[started.pid] = time.time()
        for started in list(self.deployment.started):
            if (
                started.running
                and started.ended_by == "stop"
                and not self.deployment.wait_ended(started, STOP_TIMEOUT)
            ):
                self.anomalies.append(
                    f"{started.role}-{started.number} did not stop within {STOP_TIMEOUT:.0f} s "
                    f"of SIGTERM at the end; see {started.log_path}"
                )
        deadline = time.time() + 5
        while time.time() < deadline:
            self.deployment.reap()
            if not process_tree.snapshot(os.getpid()).procs:
                break
            time.sleep(0.1)
        self._observe()
        self.leftovers = [
            {
                "pid": proc.pid,
                "kind": self.kinds.get(proc.pid, "?"),
                "cmdline": process_tree.cmdline(proc.pid)[:200],
            }
            for proc in self.tree.procs.values()
            if proc.alive
        ]
        self.deployment.kill_everything()
        self.phases["stop"] = time.time() - began


def _kind_below(parent_kind: str, pid: int, tree: process_tree.Tree) -> str:
    """What a process is, from what its parent is (and for a child of the scheduler, from its
    own children: a launcher forked by the scheduler forks tries, copies of itself)."""
    if parent_kind == "scheduler":
        command = process_tree.cmdline(pid)
        if "tradewind.runner.fork_server" in command:
            return "fork_server"
        kids = tree.kids.get(pid, [])
        if not kids:
            return "scheduler_child"  # an idle launcher or a try without children: decided later
        return "launcher" if any(process_tree.cmdline(kid) == command for kid in kids) else "try"
    if parent_kind == "fork_server":
        return "launcher"
    if parent_kind == "launcher":
        return "try"
    if parent_kind in ("try", "task_child"):
        return "task_child"
    if parent_kind in ("dag_processor", "parser"):
        return "parser"
    if parent_kind == "driver":
        return "orphan"
    return "other"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument(
        "--db-url", default=None, help="metastore URL (PostgreSQL); default SQLite in the home"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--duration", type=float, default=Options.duration)
    parser.add_argument("--settle-timeout", type=float, default=Options.settle_timeout)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    options = Options(
        backend=args.backend,
        workdir=args.workdir.resolve(),
        db_url=args.db_url,
        seed=seed,
        duration=args.duration,
        settle_timeout=args.settle_timeout,
    )
    options.workdir.mkdir(parents=True, exist_ok=True)
    chaos = ChaosRun(options)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"received {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, on_term)
    try:
        chaos.run()
    except BaseException:
        traceback.print_exc()
        (options.workdir / "report.json").write_text(
            json.dumps(
                {"error": traceback.format_exc(), "seed": seed, "backend": options.backend},
                indent=1,
            )
        )
        return 2
    finally:
        chaos.deployment.kill_everything()
    return 0


if __name__ == "__main__":
    sys.exit(main())
