"""The invariants a chaos run must keep, judged from its evidence alone (``evidence.json``).

An *execution* is one process running one try: the records with the same try key (dag_id,
run_id, task_id, map_index, try_number) and the same process (pid, start time). A kill *hits*
an execution when the process was below the victim when it was killed, or was forked by a
process below it in the moment between the snapshot and the kill (``RACE_WINDOW``).

- ``runs_finished``: every run ended, in the state its DAG must end in (only ``chaos_doomed``
  fails, unless a try failed with retries left: that is ``retries_honoured``'s); every accepted
  trigger made a run, and the scheduled DAG has exactly its runs.
- ``nothing_stuck``: no task instance left queued, scheduled, running, up_for_retry, ....
- ``no_try_ran_twice``: no try number executed by two processes (a sensor in reschedule
  mode pokes in a new process each time: for it, no try completed twice), and no execution of
  a try number beyond the instance's;
- ``no_rerun_after_scheduler_death``: the same, where a scheduler was killed or stopped between
  one run of the try and the next (kept apart: it happens when the scheduler dies before it
  recorded the try's start, or its end).
- ``no_success_lost``: an execution that completed its work (``done``) and was hit by no kill
  is recorded success; every success recorded was earned by an execution that completed.
- ``retries_honoured``: no try is recorded failed while it had retries left (a killed try is
  up_for_retry, whatever moment it was killed at).
- ``results_correct``: no task received a wrong input; every instance of a run that ended as
  expected is in its expected state, mapped tasks have their number of instances.
- ``processes_clean``: nothing ended by itself, every stop was clean (exit 0, nothing left
  running), every trigger was accepted, every record line whole.
- ``no_healthy_try_failed``: a try that was not failed on purpose and whose own process was not
  killed ends success, whatever happened to its scheduler, fork server or launcher. (Holds only
  once tries outlive those and a restarted scheduler adopts them. A try whose process was
  killed before its code wrote a record (a later poke of a rescheduled sensor) is known by its
  log, which names each process that ran it.)

Run ``python -m tests.chaos.invariants WORKDIR/evidence.json`` to judge a run again.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any

INVARIANTS = (
    "runs_finished",
    "nothing_stuck",
    "no_try_ran_twice",
    "no_rerun_after_scheduler_death",
    "no_success_lost",
    "retries_honoured",
    "results_correct",
    "processes_clean",
    "no_healthy_try_failed",
)
#: Kills of a scheduler (SIGKILL, or a stop with SIGTERM).
SCHEDULER_KINDS = frozenset({"scheduler", "scheduler_term"})
#: Victims whose tries may fail: only the try's own process (its scheduler, fork server and
#: launcher are infrastructure a try should outlive).
EXEMPT_KINDS = frozenset({"try"})
#: Seconds after a kill in which a process forked by the victim (or below it) may be its casualty.
RACE_WINDOW = 1.0
FINAL_RUN_STATES = ("success", "failed")
FINAL_TI_STATES = ("success", "failed", "skipped", "upstream_failed", "removed")

TryKey = tuple[str, str, str, int, int]


@dataclasses.dataclass
class Execution:
    key: TryKey
    pid: int
    start: int
    ppid: int
    at: float
    events: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Kill:
    kind: str
    victim: int
    t_snap: float
    t_kill: float
    below: frozenset[tuple[int, int]]
    pids: frozenset[int]

    def hits(self, execution: Execution) -> bool:
        if (execution.pid, execution.start) in self.below:
            return True
        return (
            execution.ppid in self.pids
            and self.t_snap - 0.05 <= execution.at <= self.t_kill + RACE_WINDOW
        )


def _key(row: dict[str, Any]) -> TryKey:
    return (
        row["dag_id"],
        row["run_id"],
        row["task_id"],
        int(row["map_index"]),
        int(row["try_number"]),
    )


def _name(key: tuple[Any, ...]) -> str:
    dag_id, run_id, task_id, map_index = key[:4]
    text = f"{dag_id}/{run_id}/{task_id}" + (f"[{map_index}]" if map_index >= 0 else "")
    return text + (f" try {key[4]}" if len(key) > 4 else "")


class Analysis:
    def __init__(self, evidence: dict[str, Any]) -> None:
        self.evidence = evidence
        self.t0 = float(evidence.get("t0", 0.0))
        self.specs: dict[str, dict[str, Any]] = evidence["specs"]
        self.runs: list[dict[str, Any]] = evidence["runs"]
        self.tis: list[dict[str, Any]] = evidence["tis"]
        self.kills = [
            Kill(
                k["kind"],
                k["victim"][0],
                k["t_snap"],
                k["t_kill"],
                frozenset((p, s) for p, s, *_ in k["subtree"]),
                frozenset(p for p, *_ in k["subtree"]),
            )
            for k in evidence["kills"]
        ]
        self.executions: dict[TryKey, list[Execution]] = collections.defaultdict(list)
        by_identity: dict[tuple[TryKey, int, int], Execution] = {}
        for record in sorted(evidence["records"], key=lambda r: r["at"]):
            key = _key(record)
            found = by_identity.get((key, record["pid"], record["start"]))
            if found is None:
                found = by_identity[(key, record["pid"], record["start"])] = Execution(
                    key, record["pid"], record["start"], record["ppid"], record["at"]
                )
                self.executions[key].append(found)
            found.events.append(record["event"])
        self.instances = {_key(ti)[:4]: ti for ti in self.tis}
        # The outcome of each try: its history row, and for an instance's current try its own state.
        self.outcomes: dict[TryKey, str | None] = {_key(h): h["state"] for h in evidence["history"]}
        for ti in self.tis:
            if ti["try_number"] > 0:
                self.outcomes[_key(ti)] = ti["state"]

    # -- helpers ---------------------------------------------------------------------------------
    def hits(self, execution: Execution) -> list[Kill]:
        return [kill for kill in self.kills if kill.hits(execution)]

    def _rel(self, at: float) -> str:
        return f"+{at - self.t0:.2f}s"

    def describe(self, execution: Execution) -> str:
        hits = self.hits(execution)
        hit = (
            f", hit by {', '.join(f'{k.kind} kill {self._rel(k.t_kill)}' for k in hits)}"
            if hits
            else ""
        )
        events = " ".join(execution.events)
        return f"pid {execution.pid} from {self._rel(execution.at)} ({events}{hit})"

    def _reschedule_sensor(self, key: TryKey) -> bool:
        return key[2] in self.specs.get(key[0], {}).get("reschedule_sensors", ())

    # -- invariants ------------------------------------------------------------------------------
    def runs_finished(self) -> list[str]:
        found = []
        for run in self.runs:
            spec = self.specs.get(run["dag_id"])
            name = f"run {run['dag_id']}/{run['run_id']}"
            if spec is None:
                found.append(f"{name} belongs to no DAG of the workload")
            elif run["state"] not in FINAL_RUN_STATES:
                found.append(f"{name} is still {run['state']}")
            elif run["state"] != spec["run_state"] and not self._failed_with_retries_left(run):
                found.append(
                    f"{name} ended {run['state']}, expected {spec['run_state']}: "
                    f"{self._why_failed(run)}"
                )
        present = {(run["dag_id"], run["run_id"]) for run in self.runs}
        asked = {(t["dag_id"], t["run_id"]) for t in self.evidence["triggers"] if t["ok"]}
        for dag_id, run_id in sorted(asked - present):
            found.append(f"the trigger of {dag_id}/{run_id} was accepted but no run exists")
        for run in self.runs:
            if run["run_type"] == "manual" and (run["dag_id"], run["run_id"]) not in asked:
                found.append(f"run {run['dag_id']}/{run['run_id']} was never triggered")
        for dag_id, spec in self.specs.items():
            made = sum(
                1 for run in self.runs if run["dag_id"] == dag_id and run["run_type"] == "scheduled"
            )
            if made != spec["scheduled_runs"]:
                found.append(
                    f"{dag_id} has {made} scheduled runs, expected {spec['scheduled_runs']}"
                )
        return found

    def _failed_with_retries_left(
        self, run: dict[str, Any] | None = None
    ) -> list[tuple[TryKey, dict[str, Any]]]:
        """Tries recorded failed although their instance had retries left (of one run, or all)."""
        found = []
        for key, state in sorted(self.outcomes.items()):
            instance = self.instances.get(key[:4])
            if state != "failed" or instance is None or key[4] > instance["max_tries"]:
                continue
            if run is None or key[:2] == (run["dag_id"], run["run_id"]):
                found.append((key, instance))
        return found

    def _why_failed(self, run: dict[str, Any]) -> str:
        failed = [
            ti
            for ti in self.tis
            if (ti["dag_id"], ti["run_id"]) == (run["dag_id"], run["run_id"])
            and ti["state"] == "failed"
        ]
        parts = []
        for ti in failed:
            tries = []
            for number in range(1, ti["try_number"] + 1):
                key = _key({**ti, "try_number": number})
                executions = self.executions.get(key, [])
                tries.append(
                    f"try {number} {self.outcomes.get(key)}: "
                    + ("; ".join(self.describe(e) for e in executions) or "no record")
                )
            parts.append(
                f"{_name(_key(ti)[:4])} failed after {ti['try_number']} tries ({' | '.join(tries)})"
            )
        return "; ".join(parts) or "no failed task instance"

    def nothing_stuck(self) -> list[str]:
        return [
            f"{_name(_key(ti)[:4])} left {ti['state'] or 'without a state'} at try "
            f"{ti['try_number']}"
            for ti in self.tis
            if ti["state"] not in FINAL_TI_STATES
        ]

    def _duplicates(self) -> tuple[list[str], list[str]]:
        """Tries run twice: (those without, those with a scheduler killed or stopped between
        each run and the next)."""
        others, after_scheduler_death = [], []
        for key, executions in sorted(self.executions.items()):
            problems = []
            if len(executions) > 1 and not self._reschedule_sensor(key):
                problems.append(f"executed by {len(executions)} processes")
            completed = [e for e in executions if "done" in e.events]
            if len(completed) > 1:
                problems.append(f"completed {len(completed)} times")
            instance = self.instances.get(key[:4])
            if instance is not None and key[4] > instance["try_number"]:
                problems.append(
                    f"ran, but the instance is at try {instance['try_number']} "
                    f"({instance['state']})"
                )
            if not problems:
                continue
            text = f"{_name(key)} {' and '.join(problems)}: " + "; ".join(
                self.describe(e) for e in executions
            )
            runs = sorted(executions, key=lambda e: e.at)
            restarted = all(
                self._scheduler_died_between(before, after)
                for before, after in itertools.pairwise(runs)
            )
            (after_scheduler_death if restarted and len(runs) > 1 else others).append(text)
        return others, after_scheduler_death

    def _scheduler_died_between(self, before: Execution, after: Execution) -> bool:
        return any(
            kill.kind in SCHEDULER_KINDS and before.at - RACE_WINDOW <= kill.t_kill <= after.at
            for kill in self.kills
        )

    def no_try_ran_twice(self) -> list[str]:
        return self._duplicates()[0]

    def no_rerun_after_scheduler_death(self) -> list[str]:
        return self._duplicates()[1]

    def no_success_lost(self) -> list[str]:
        found = []
        for key, executions in sorted(self.executions.items()):
            for execution in executions:
                if (
                    "done" in execution.events
                    and not self.hits(execution)
                    and self.outcomes.get(key) != "success"
                ):
                    found.append(
                        f"{_name(key)} completed its work untouched by any kill but is recorded "
                        f"{self.outcomes.get(key)}: {self.describe(execution)}"
                    )
        for key, state in sorted(self.outcomes.items()):
            if state == "success" and not any(
                "done" in e.events for e in self.executions.get(key, [])
            ):
                found.append(
                    f"{_name(key)} is recorded success, but no execution of it completed: "
                    + (
                        "; ".join(self.describe(e) for e in self.executions.get(key, []))
                        or "none ran"
                    )
                )
        return found

    def retries_honoured(self) -> list[str]:
        return [
            f"{_name(key)} is recorded failed with {instance['max_tries'] - key[4] + 1} retries "
            "left: "
            + (
                "; ".join(self.describe(e) for e in self.executions.get(key, []))
                or "no execution recorded"
            )
            for key, instance in self._failed_with_retries_left()
        ]

    def results_correct(self) -> list[str]:
        found = [
            f"{_name(key)} got a wrong input: {self.describe(e)}"
            for key, executions in sorted(self.executions.items())
            for e in executions
            if "bad" in e.events
        ]
        by_run: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
        for ti in self.tis:
            by_run[(ti["dag_id"], ti["run_id"])].append(ti)
        for run in self.runs:
            spec = self.specs.get(run["dag_id"])
            if spec is None or run["state"] != spec["run_state"]:
                continue
            tis = by_run[(run["dag_id"], run["run_id"])]
            for task_id, state in spec["task_states"].items():
                instances = [ti for ti in tis if ti["task_id"] == task_id]
                expected_count = spec["map_counts"].get(task_id, 1)
                if len(instances) != expected_count:
                    found.append(
                        f"run {run['dag_id']}/{run['run_id']} has {len(instances)} instances of "
                        f"{task_id}, expected {expected_count}"
                    )
                for ti in instances:
                    if ti["state"] != state:
                        found.append(
                            f"{_name(_key(ti)[:4])} ended {ti['state']}, expected {state} "
                            f"(the run ended {run['state']})"
                        )
        return found

    def processes_clean(self) -> list[str]:
        found = list(self.evidence["anomalies"])
        for process in self.evidence["processes"]:
            if process["ended_by"] == "stop" and process["exit_code"] != 0:
                found.append(
                    f"{process['role']}-{process['number']} exited with {process['exit']} when "
                    f"stopped with SIGTERM; see {process['log']}"
                )
        found += [
            f"still running after the stop: {p['kind']} pid {p['pid']}: {p['cmdline']}"
            for p in self.evidence["leftovers"]
        ]
        found += [
            f"trigger of {t['dag_id']}/{t['run_id']} failed after {t['seconds']:.1f} s: "
            f"{t['error']}"
            for t in self.evidence["triggers"]
            if not t["ok"]
        ]
        found += [f"torn record line: {line}" for line in self.evidence["torn_records"]]
        return found

    def no_healthy_try_failed(self) -> list[str]:
        found = []
        for key, executions in sorted(self.executions.items()):
            on_purpose = self.specs.get(key[0], {}).get("fails_until", {}).get(key[2], 0)
            if key[4] <= on_purpose or any("fail" in e.events for e in executions):
                continue
            hits = [kill for e in executions for kill in self.hits(e)]
            if any(kill.kind in EXEMPT_KINDS for kill in hits):
                continue
            outcome = self.outcomes.get(key)
            if outcome != "success" and not self._killed_before_recording(key):
                found.append(
                    f"{_name(key)} ended {outcome}: "
                    + "; ".join(self.describe(e) for e in executions)
                )
        return found

    def _killed_before_recording(self, key: TryKey) -> bool:
        """Whether a process of this try was killed as a try before its code wrote a record
        (a later poke of a rescheduled sensor, say): only the try's own log names it."""
        killed = {kill.victim for kill in self.kills if kill.kind in EXEMPT_KINDS}
        workdir = self.evidence.get("workdir")
        if not killed or not workdir:
            return False
        dag_id, run_id, task_id, map_index, try_number = key
        folder = Path(workdir, "home", "logs", f"dag_id={dag_id}", f"run_id={run_id}")
        folder = folder / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        try:
            text = (folder / f"attempt={try_number}.log").read_text(errors="replace")
        except OSError:
            return False
        started = {int(pid) for pid in re.findall(r"started in process (\d+)", text)}
        return bool(started & killed)

    # -- figures ---------------------------------------------------------------------------------
    def figures(self, violations: dict[str, list[str]]) -> dict[str, Any]:
        evidence = self.evidence
        executions = [e for group in self.executions.values() for e in group]
        hit_by: collections.Counter[str] = collections.Counter()
        for execution in executions:
            for kind in {kill.kind for kill in self.hits(execution)}:
                hit_by[kind] += 1
        roles = collections.Counter(p["role"] for p in evidence["processes"])
        phases = dict(evidence["phases"])
        triggers = evidence["triggers"]
        return {
            "backend": evidence["backend"],
            "seed": evidence["seed"],
            "seconds": {
                **{k: round(v, 1) for k, v in phases.items()},
                "total": round(sum(phases.values()), 1),
            },
            "kills": dict(collections.Counter(k.kind for k in self.kills)),
            "kills_total": len(self.kills),
            "kills_skipped_no_victim": evidence["skipped_kills"],
            "restarts": {
                role: roles[role] - 1 for role in ("scheduler", "dag_processor") if roles[role]
            },
            "runs": len(self.runs),
            "runs_by_state": dict(collections.Counter(r["state"] for r in self.runs)),
            "task_instances": len(self.tis),
            "task_instances_by_state": dict(collections.Counter(str(t["state"]) for t in self.tis)),
            "try_executions": len(executions),
            "sensor_pokes": sum(e.events.count("poke") for e in executions),
            "retries_used": sum(1 for h in evidence["history"] if h["state"] == "up_for_retry"),
            "failures_on_purpose": sum(1 for e in executions if "fail" in e.events),
            "executions_hit_by_kills": dict(hit_by),
            "healthy_tries_failed": len(violations["no_healthy_try_failed"]),
            "triggers": {
                "ok": sum(1 for t in triggers if t["ok"]),
                "failed": sum(1 for t in triggers if not t["ok"]),
                "slowest_s": round(max((t["seconds"] for t in triggers), default=0.0), 2),
            },
            "max_concurrent_tries": evidence["observed"]["max_concurrent_tries"],
            "processes_seen": evidence["observed"]["processes_seen"],
            "orphans_reaped": evidence["orphan_exits"],
            "tracebacks_in_logs": {
                f"{p['role']}-{p['number']}": p["tracebacks"]
                for p in evidence["processes"]
                if p.get("tracebacks")
            },
        }


def analyse(evidence: dict[str, Any]) -> dict[str, Any]:
    analysis = Analysis(evidence)
    violations = {name: getattr(analysis, name)() for name in INVARIANTS}
    first_tracebacks = {
        f"{p['role']}-{p['number']}": p["first_traceback"]
        for p in evidence["processes"]
        if p.get("first_traceback")
    }
    return {
        "backend": evidence["backend"],
        "seed": evidence["seed"],
        "workdir": evidence.get("workdir"),
        "violations": violations,
        "figures": analysis.figures(violations),
        "first_tracebacks": first_tracebacks,
    }


def summary(report: dict[str, Any], limit: int = 5) -> str:
    """The figures and, per invariant, how many violations and the first few."""
    if "error" in report:
        return (
            f"chaos run on {report.get('backend')} (seed {report.get('seed')}) failed:\n"
            f"{report['error']}"
        )
    figures = report["figures"]
    lines = [
        f"chaos on {report['backend']}, seed {report['seed']}: "
        + ", ".join(
            f"{name} {value}" for name, value in figures.items() if name not in ("backend", "seed")
        )
    ]
    for name, found in report["violations"].items():
        lines.append(f"  {name}: {'ok' if not found else f'{len(found)} violation(s)'}")
        lines += [f"    - {text}" for text in found[:limit]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(analyse(json.loads(Path(sys.argv[1]).read_text())), limit=50))
