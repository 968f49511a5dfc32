"""The chaos workload: DAG files written into a fresh DAG folder, and what each must end as.

Every task appends one line per event to its own file under the records folder (one
``write`` on an ``O_APPEND`` descriptor, so lines from concurrent processes never mix):

- ``start`` when its code begins, ``done`` when its work is complete (just before it returns),
  ``fail`` before a deliberate failure, ``bad`` when an input it received is wrong (an XCom
  lost or mixed up), ``poke`` at each poke of a sensor;
- each line names the try (dag_id, run_id, task_id, map_index, try_number) and the process
  that ran it: pid and start time (``/proc/<pid>/stat`` field 22), so a pid used again later
  is not taken for the same process, and the parent's pid (the launcher that forked it).

Bash tasks write the same lines from bash, about their parent (the try's process).
Several tasks sleep 0.5-3 s, so kills land while tries run.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

#: Retries of every task that is not meant to fail: enough that chaos alone never uses them up.
RETRIES = 12

PRELUDE = r'''
import json
import os
import random
import time
from datetime import datetime, timedelta, timezone

from tradewind import DAG, BashOperator, PythonSensor, task

RECORDS = @RECORDS@
DEFAULTS = {"retries": @RETRIES@, "retry_delay": timedelta(seconds=0.2)}


def record(ti, event, **extra):
    """One line about this execution of this try, in one write."""
    with open("/proc/self/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    line = dict(event=event, dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id,
                map_index=ti.map_index,
                try_number=ti.try_number, pid=os.getpid(), start=int(fields[19]),
                ppid=int(fields[1]),
                at=time.time(), **extra)
    folder = os.path.join(RECORDS, ti.dag_id, ti.run_id)
    os.makedirs(folder, exist_ok=True)
    fd = os.open(os.path.join(folder, f"{ti.task_id}.{ti.map_index}.jsonl"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\n").encode())
    finally:
        os.close(fd)


def work(ti, low=0.0, high=0.0, fail_first=False, result=None):
    record(ti, "start")
    if fail_first and ti.try_number == 1:
        record(ti, "fail")
        raise RuntimeError("deliberate failure of the first try")
    time.sleep(random.Random(f"{ti.run_id}/{ti.task_id}/{ti.map_index}").uniform(low, high))
    record(ti, "done")
    return result


def verify(ti, ok, what):
    if not ok:
        record(ti, "bad", what=what)
        raise AssertionError(what)


def bash_work(seconds, fail_first=False):
    """A bash command recording like ``work``; its parent ($PPID) is the try's process."""
    path = RECORDS + "/{{ ti.dag_id }}/{{ run_id }}/{{ ti.task_id }}.{{ ti.map_index }}.jsonl"
    fmt = ('{"event": "%s", "dag_id": "%s", "run_id": "%s", "task_id": "%s", "map_index": %s, '
           '"try_number": %s, "pid": %s, "start": %s, "ppid": %s, "at": %s}\\n')
    names = ('"{{ ti.dag_id }}" "{{ run_id }}" "{{ ti.task_id }}" "{{ ti.map_index }}" '
             '"{{ ti.try_number }}"')
    lines = [
        'mkdir -p "$(dirname "' + path + '")"',
        "rec() { read -r -a s < /proc/$PPID/stat; printf '" + fmt + "' \"$1\" " + names
        + ' "$PPID" "${s[21]}" "${s[3]}" "$EPOCHREALTIME" >> "' + path + '"; }',
        "rec start",
    ]
    if fail_first:
        lines.append("if [ {{ ti.try_number }} -eq 1 ]; then rec fail; exit 3; fi")
    lines += ["sleep " + str(seconds), "rec done", "echo finished"]
    return "\n".join(lines)
'''

CHAIN = """
with DAG("chaos_chain", schedule=None, default_args=DEFAULTS) as dag:

    @task
    def extract(ti=None):
        return work(ti, 0.5, 2.5, result=1)

    @task
    def transform(value, ti=None):
        verify(ti, value == 1, f"transform got {value!r} instead of 1")
        return work(ti, 0.0, 0.3, result=value + 1)

    @task
    def publish(value, ti=None):
        verify(ti, value == 2, f"publish got {value!r} instead of 2")
        return work(ti, 0.5, 3.0, result=value)

    moved = transform(extract())
    load = BashOperator(task_id="load", bash_command=bash_work(1.5))
    report = BashOperator(task_id="report", bash_command=bash_work(0.1))
    moved >> load
    published = publish(moved)
    load >> published
    published >> report
"""

FAN = """
with DAG("chaos_fan", schedule=None, default_args=DEFAULTS) as dag:

    @task
    def seed(ti=None):
        return work(ti, 0.0, 0.2, result=10)

    @task
    def leaf(base, factor, ti=None):
        return work(ti, 0.5, 2.0, result=base * factor)

    @task
    def join(values, ti=None):
        verify(ti, sorted(values) == [10 * n for n in range(6)], f"join got {values!r}")
        return work(ti, 0.0, 0.2, result=sum(values))

    base = seed()
    total = join([leaf.override(task_id=f"leaf_{n}")(base, n) for n in range(6)])
    total >> BashOperator(task_id="notify", bash_command=bash_work(0.2))
"""

MAPPED = """
with DAG("chaos_mapped", schedule=None, default_args=DEFAULTS) as dag:

    @task
    def numbers(ti=None):
        return work(ti, 0.0, 0.2, result=list(range(5)))

    @task
    def square(x, ti=None):
        return work(ti, 0.3, 1.5, result=x * x)

    @task
    def total(squares, ti=None):
        verify(ti, sorted(squares) == [0, 1, 4, 9, 16], f"total got {squares!r}")
        return work(ti, 0.0, 0.2, result=sum(squares))

    total(square.expand(x=numbers()))
"""

RETRY = """
with DAG("chaos_retry", schedule=None, default_args=DEFAULTS) as dag:

    @task
    def flaky(ti=None):
        return work(ti, 0.2, 1.0, fail_first=True, result="ok")

    @task
    def after(value, ti=None):
        verify(ti, value == "ok", f"after got {value!r}")
        return work(ti, 0.0, 0.5)

    flaky_bash = BashOperator(task_id="flaky_bash", bash_command=bash_work(0.5, fail_first=True))
    finished = after(flaky())
    flaky_bash >> finished
"""

SENSOR = """
MARKERS = os.path.join(RECORDS, "_markers")


def marker_ready(ti):
    record(ti, "poke")
    path = os.path.join(MARKERS, ti.run_id)
    if not os.path.exists(path) or time.time() - os.path.getmtime(path) < 1.5:
        return False
    record(ti, "done")
    return True


with DAG("chaos_sensor", schedule=None, default_args=DEFAULTS) as dag:

    @task
    def prepare(ti=None):
        record(ti, "start")
        os.makedirs(MARKERS, exist_ok=True)
        with open(os.path.join(MARKERS, ti.run_id), "w") as handle:
            handle.write("ready")
        record(ti, "done")

    wait = PythonSensor(task_id="wait", python_callable=marker_ready, mode="reschedule",
                        poke_interval=0.3,
                        timeout=300)
    hold = PythonSensor(task_id="hold", python_callable=marker_ready, mode="poke",
                        poke_interval=0.3,
                        timeout=300)
    finish = BashOperator(task_id="finish", bash_command=bash_work(0.3))
    prepare() >> [wait, hold]
    wait >> finish
    hold >> finish
"""

DOOMED = """
with DAG("chaos_doomed", schedule=None, default_args=DEFAULTS) as dag:

    @task(retries=1)
    def always_fails(ti=None):
        record(ti, "start")
        time.sleep(0.3)
        record(ti, "fail")
        raise RuntimeError("this task always fails")

    @task(trigger_rule="all_done")
    def cleanup(ti=None):
        return work(ti, 0.0, 0.5)

    @task
    def never(ti=None):
        return work(ti)

    broken = always_fails()
    broken >> cleanup()
    broken >> never()
"""

SCHEDULED = """
START = datetime.fromtimestamp(@START@, tz=timezone.utc)

with DAG("chaos_scheduled", schedule=timedelta(minutes=1), start_date=START,
         end_date=START + timedelta(minutes=4, seconds=30), catchup=True, max_active_runs=2,
         default_args=DEFAULTS) as dag:

    @task
    def stamp(ti=None):
        return work(ti, 0.3, 1.5, result=ti.run_id)

    stamp() >> BashOperator(task_id="check", bash_command=bash_work(0.8))
"""


@dataclasses.dataclass(frozen=True)
class DagSpec:
    """One DAG of the workload and what every run of it must end as."""

    dag_id: str
    body: str
    run_state: str = "success"
    #: Final state of every instance of each task (all map indexes).
    task_states: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Number of instances of mapped tasks.
    map_counts: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Runs the scheduler creates by itself; manual triggers go only to DAGs with none.
    scheduled_runs: int = 0
    #: Sensors in reschedule mode: each poke is a new process of the same try.
    reschedule_sensors: frozenset[str] = frozenset()
    #: Tasks failed on purpose, and up to which try (a try killed first would have failed too).
    fails_until: dict[str, int] = dataclasses.field(default_factory=dict)


def _all(state: str, *task_ids: str) -> dict[str, str]:
    return dict.fromkeys(task_ids, state)


DAGS: tuple[DagSpec, ...] = (
    DagSpec(
        "chaos_chain",
        CHAIN,
        task_states=_all("success", "extract", "transform", "load", "publish", "report"),
    ),
    DagSpec(
        "chaos_fan",
        FAN,
        task_states=_all("success", "seed", "join", "notify", *(f"leaf_{n}" for n in range(6))),
    ),
    DagSpec(
        "chaos_mapped",
        MAPPED,
        task_states=_all("success", "numbers", "square", "total"),
        map_counts={"square": 5},
    ),
    DagSpec(
        "chaos_retry",
        RETRY,
        task_states=_all("success", "flaky", "flaky_bash", "after"),
        fails_until={"flaky": 1, "flaky_bash": 1},
    ),
    DagSpec(
        "chaos_sensor",
        SENSOR,
        task_states=_all("success", "prepare", "wait", "hold", "finish"),
        reschedule_sensors=frozenset({"wait"}),
    ),
    DagSpec(
        "chaos_doomed",
        DOOMED,
        run_state="failed",
        task_states={"always_fails": "failed", "cleanup": "success", "never": "upstream_failed"},
        fails_until={"always_fails": RETRIES + 1},
    ),
    DagSpec(
        "chaos_scheduled",
        SCHEDULED,
        task_states=_all("success", "stamp", "check"),
        scheduled_runs=5,
    ),
)

SPECS = {spec.dag_id: spec for spec in DAGS}
TRIGGERED = tuple(spec.dag_id for spec in DAGS if not spec.scheduled_runs)


def scheduled_start(now: float) -> int:
    """Start of the scheduled DAG: whole minutes, early enough that all of its 5 one-minute
    intervals (the last starts 4 min after it; end_date 4 min 30 s) are over at ``now``."""
    return (int(now) // 60 - 7) * 60


def source(spec: DagSpec, records: Path, start: int) -> str:
    """The DAG file of ``spec``, recording under ``records``."""
    text = textwrap.dedent(PRELUDE) + textwrap.dedent(spec.body)
    return (
        text.replace("@RECORDS@", repr(str(records)))
        .replace("@RETRIES@", str(RETRIES))
        .replace("@START@", str(start))
    )


def write_dags(folder: Path, records: Path, now: float) -> None:
    """Write every DAG of the workload into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    records.mkdir(parents=True, exist_ok=True)
    start = scheduled_start(now)
    for spec in DAGS:
        (folder / f"{spec.dag_id}.py").write_text(source(spec, records, start), encoding="utf-8")
