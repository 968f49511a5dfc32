"""Large DAGs of three shapes for the graph page's tests and benchmark.

``chain``: one line of tasks. ``fan``: one task feeding all the others, which feed a last
one. ``nested``: a start and an end around parallel outer groups, each holding a chain of
inner groups of fanned-out tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from tradewind import DAG, EmptyOperator, TaskGroup, serialization
from tradewind.dag_processing.file_parsing import ParsedFile
from tradewind.dag_processing.store import store_files
from tradewind.db.models import Dag, DagRun, TaskInstance

SHAPES = ("chain", "fan", "nested")
WHEN = datetime(2024, 3, 1, tzinfo=UTC)
RUN_ID = f"manual__{WHEN.isoformat()}"
#: The states given to task instances in turn by ``store_with_run``.
STATES = ("success", "success", "running", "failed", "queued", None)
#: Tasks in one inner group of the ``nested`` shape, and inner groups per outer group.
INNER_TASKS = 25
INNER_GROUPS = 4


def big_dag(kind: str, size: int) -> DAG:
    """A DAG named ``<kind>_<size>`` of about ``size`` tasks (exactly, for chain and fan)."""
    with DAG(f"{kind}_{size}", schedule=None, start_date=datetime(2024, 1, 1), tags=["big"]) as dag:
        if kind == "chain":
            previous = None
            for index in range(size):
                current = EmptyOperator(task_id=f"step_{index:05d}")
                if previous is not None:
                    previous >> current
                previous = current
        elif kind == "fan":
            start = EmptyOperator(task_id="start")
            end = EmptyOperator(task_id="end")
            for index in range(size - 2):
                start >> EmptyOperator(task_id=f"worker_{index:05d}") >> end
        elif kind == "nested":
            _nested(size)
        else:
            raise ValueError(f"unknown DAG shape {kind!r}: expected one of {', '.join(SHAPES)}")
    return dag


def _nested(size: int) -> None:
    start = EmptyOperator(task_id="start")
    end = EmptyOperator(task_id="end")
    outer_count = max(1, (size - 2) // (INNER_TASKS * INNER_GROUPS))
    for outer in range(outer_count):
        with TaskGroup(f"region_{outer:03d}"):
            previous = start
            for inner in range(INNER_GROUPS):
                with TaskGroup(f"stage_{inner}"):
                    first = EmptyOperator(task_id="open")
                    last = EmptyOperator(task_id="close")
                    middle = [
                        EmptyOperator(task_id=f"part_{n:02d}") for n in range(INNER_TASKS - 2)
                    ]
                    first >> middle >> last
                previous >> first
                previous = last
            previous >> end


def cycled_state(index: int, task_id: str) -> str | None:
    return STATES[index % len(STATES)]


def store_with_run(
    session: Session,
    dag: DAG,
    folder: Path,
    *,
    run_state: str = "running",
    state_of: Callable[[int, str], str | None] = cycled_state,
    mapped: Mapping[str, Sequence[str | None]] | None = None,
) -> None:
    """Store ``dag`` as the DAG processor would and add the run ``RUN_ID`` pinned to it, with
    one task instance per task in ``state_of(index, task_id)``, or, for a task in ``mapped``,
    one per state listed there (rows inserted in bulk)."""
    path = folder / f"{dag.dag_id}.py"
    store_files(
        session,
        [ParsedFile(path, {dag.dag_id: serialization.dumps(dag)}, [])],
        {path: "# generated\n"},
        paused_by_default=False,
        now=WHEN,
        is_live=lambda _: True,
    )
    session.flush()
    row = session.get(Dag, dag.dag_id)
    assert row is not None
    session.execute(
        insert(DagRun),
        [
            dict(
                dag_id=dag.dag_id,
                run_id=RUN_ID,
                logical_date=WHEN,
                data_interval_start=WHEN,
                data_interval_end=WHEN,
                run_after=WHEN,
                run_type="manual",
                state=run_state,
                conf={},
                dag_version_id=row.latest_version_id,
                start_date=WHEN,
                clear_number=0,
                created_at=WHEN,
                updated_at=WHEN,
            )
        ],
    )
    instances = []
    for index, task_id in enumerate(dag.task_dict):
        if mapped and task_id in mapped:
            instances += [
                (task_id, map_index, state) for map_index, state in enumerate(mapped[task_id])
            ]
        else:
            instances.append((task_id, -1, state_of(index, task_id)))
    session.execute(
        insert(TaskInstance),
        [
            dict(
                dag_id=dag.dag_id,
                run_id=RUN_ID,
                task_id=task_id,
                map_index=map_index,
                try_number=1,
                max_tries=0,
                state=state,
                pool="default_pool",
                pool_slots=1,
                priority_weight=1,
                queue="default",
                operator="EmptyOperator",
                updated_at=WHEN,
            )
            for task_id, map_index, state in instances
        ],
    )
