"""Load what a pass decides running DAG runs from, in a few batched queries.

Runs are picked by their ``dag_run.id``, joined to their rows on ``(dag_id, run_id)``: a
row-value list (``(dag_id, run_id) IN ((..), (..))``) is what one would write, but SQLite
plans one of more than one row as a scan of the whole table, whose cost grows with history
(about 150 ms per million task instances, on every pass with two running runs or more).

``load_runs`` reads every task instance of the runs at once (plain values, no ORM objects:
every pass reads them all). ``load_needs`` adds what the decisions asked for when the view
lacked it, for every run at once: the previous run's states for ``depends_on_past`` in one
query, the XComs mapped tasks expand over in another. No query runs per task instance.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session, aliased

from tradewind.db.models import DagRun, TaskInstance, XCom
from tradewind.runner import xcom_codec
from tradewind.scheduler import run_decisions
from tradewind.scheduler.dag_cache import CachedVersion, DagVersionCache
from tradewind.scheduler.run_decisions import PastStates, RunDecision, RunView, TiView, XComError

log = logging.getLogger("tradewind.scheduler")


@dataclasses.dataclass(frozen=True)
class LoadedRun:
    """A running run, its DAG version, and the view its decision is made from."""

    run: DagRun
    version: CachedVersion
    view: RunView


_TI = TaskInstance.__table__
_XCOM = XCom.__table__
_RUN = DagRun.__table__
_VIEW_COLUMNS = tuple(field.name for field in dataclasses.fields(TiView))
# Built once: building a statement costs about as much as running it.
_OF_RUN = {
    table: _RUN.join(table, and_(table.c.dag_id == _RUN.c.dag_id, table.c.run_id == _RUN.c.run_id))
    for table in (_TI, _XCOM)
}
_RUN_TIS = (
    select(_TI.c.dag_id, _TI.c.run_id, *(_TI.c[name] for name in _VIEW_COLUMNS))
    .select_from(_OF_RUN[_TI])
    .where(_RUN.c.id.in_(bindparam("run_ids", expanding=True)))
)
_previous = aliased(_RUN)
_PREVIOUS_RUN_ID = (
    select(_previous.c.run_id)
    .where(_previous.c.dag_id == _RUN.c.dag_id, _previous.c.logical_date < _RUN.c.logical_date)
    .order_by(_previous.c.logical_date.desc())
    .limit(1)
    .correlate(_RUN)
    .scalar_subquery()
)
#: The states of the previous run's instances of some tasks, for several runs at once.
_PAST_STATES = (
    select(_RUN.c.id, _TI.c.task_id, _TI.c.state)
    .select_from(
        _RUN.join(_TI, and_(_TI.c.dag_id == _RUN.c.dag_id, _TI.c.run_id == _PREVIOUS_RUN_ID))
    )
    .where(
        _RUN.c.id.in_(bindparam("run_ids", expanding=True)),
        _TI.c.task_id.in_(bindparam("task_ids", expanding=True)),
    )
)
#: Every wanted key of every wanted task in every wanted run: a few more rows than asked for
#: (a task wanted in one run is read in all of them), which the caller does not look up.
_XCOMS = (
    select(
        _XCOM.c.dag_id,
        _XCOM.c.run_id,
        _XCOM.c.task_id,
        _XCOM.c.map_index,
        _XCOM.c.key,
        _XCOM.c.value,
    )
    .select_from(_OF_RUN[_XCOM])
    .where(
        _RUN.c.id.in_(bindparam("run_ids", expanding=True)),
        _XCOM.c.task_id.in_(bindparam("task_ids", expanding=True)),
        _XCOM.c.key.in_(bindparam("keys", expanding=True)),
    )
)
_BATCH = 500


def load_runs(session: Session, cache: DagVersionCache, runs: Iterable[DagRun]) -> list[LoadedRun]:
    """Views of ``runs`` (those whose DAG version cannot be read are left out, logged)."""
    runs = list(runs)
    by_run: dict[tuple[str, str], list[TiView]] = defaultdict(list)
    session.flush()
    ids = [run.id for run in runs]
    for start in range(0, len(ids), _BATCH):
        for row in session.execute(_RUN_TIS, {"run_ids": ids[start : start + _BATCH]}):
            by_run[(row[0], row[1])].append(TiView(*row[2:]))
    loaded = []
    for run in runs:
        if run.dag_version_id is None:
            continue
        try:
            version = cache.get(session, run.dag_version_id)
        except Exception:  # one unreadable version must not stop every other run
            log.exception(
                "Cannot load DAG version %s of run %s of %s; the run waits",
                run.dag_version_id,
                run.run_id,
                run.dag_id,
            )
            continue
        view = RunView(
            dag=version.dag,
            topological_order=version.topological_order,
            leaf_ids=version.leaf_ids,
            start_date=run.start_date,
            tis=tuple(by_run.get((run.dag_id, run.run_id), ())),
            past=PastStates(complete=run.logical_date is None),
        )
        loaded.append(LoadedRun(run, version, view))
    return loaded


def load_needs(session: Session, pending: list[tuple[LoadedRun, RunDecision]]) -> list[LoadedRun]:
    """The runs of ``pending`` again, their views completed with what the decisions asked for."""
    past = _past_states(session, [(item.run, d.needs_past) for item, d in pending if d.needs_past])
    xcoms = _xcoms(session, [(item, d.needs_xcoms) for item, d in pending if d.needs_xcoms])
    completed = []
    for item, decision in pending:
        view = item.view
        if decision.needs_past:
            states = {**view.past.states, **past.get(item.run.id, {})}
            view = dataclasses.replace(
                view,
                past=PastStates(loaded=view.past.loaded | decision.needs_past, states=states),
            )
        if decision.needs_xcoms:
            view = dataclasses.replace(view, xcoms={**view.xcoms, **xcoms.get(item.run.id, {})})
        completed.append(dataclasses.replace(item, view=view))
    return completed


def _past_states(
    session: Session, wanted: list[tuple[DagRun, frozenset[str]]]
) -> dict[int, dict[str, tuple[str | None, ...]]]:
    """By run id: the states of the previous run's instances of the wanted tasks."""
    if not wanted:
        return {}
    found: dict[int, dict[str, list[str | None]]] = defaultdict(lambda: defaultdict(list))
    task_ids = sorted(set().union(*(ids for _run, ids in wanted)))
    run_ids = [run.id for run, _ids in wanted]
    for start in range(0, len(run_ids), _BATCH):
        params = {"run_ids": run_ids[start : start + _BATCH], "task_ids": task_ids}
        for run_id, task_id, state in session.execute(_PAST_STATES, params):
            found[run_id][task_id].append(state)
    return {
        run_id: {task_id: tuple(states) for task_id, states in by_task.items()}
        for run_id, by_task in found.items()
    }


def _xcoms(
    session: Session, wanted: list[tuple[LoadedRun, frozenset[run_decisions.XComKey]]]
) -> dict[int, dict[run_decisions.XComKey, Any]]:
    """By run id: each wanted XCom as a task pulls it (mapped producer: a list by map index)."""
    if not wanted:
        return {}
    run_ids = sorted({item.run.id for item, _keys in wanted})
    task_ids = sorted({task_id for _item, keys in wanted for task_id, *_ in keys})
    names = sorted({key for _item, keys in wanted for _task_id, key, _mapped in keys})
    stored: dict[tuple[str, str, str, str], list[tuple[int, str | None]]] = defaultdict(list)
    for start in range(0, len(run_ids), _BATCH):
        params = {"run_ids": run_ids[start : start + _BATCH], "task_ids": task_ids, "keys": names}
        for dag_id, run_id, task_id, map_index, key, value in session.execute(_XCOMS, params):
            stored[(dag_id, run_id, task_id, key)].append((map_index, value))
    values: dict[int, dict[run_decisions.XComKey, Any]] = {}
    for item, keys in wanted:
        run = item.run
        values[run.id] = {
            (task_id, key, mapped): _pulled(
                stored.get((run.dag_id, run.run_id, task_id, key), []), mapped
            )
            for task_id, key, mapped in keys
        }
    return values


def _pulled(rows: list[tuple[int, str | None]], mapped: bool) -> Any:
    """The value a task pulls from these stored rows: a mapped producer's in map-index order,
    else the unmapped one or None. A value that does not decode becomes an ``XComError``
    (the expansion fails with it, as when it is pulled)."""
    try:
        if mapped:
            return [xcom_codec.decode(v) for _i, v in sorted(rows) if _i >= 0 and v is not None]
        encoded = next((value for index, value in rows if index == -1), None)
        return None if encoded is None else xcom_codec.decode(encoded)
    except Exception as exc:  # decoding is the expansion's failure, not the pass's
        return XComError(exc)
