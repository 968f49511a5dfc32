"""A whole DAG as JSON (``serialize_dag``, ``dumps``) and back (``deserialize_dag``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from tradewind import timetables
from tradewind.exceptions import TradewindError
from tradewind.sdk import definition_context
from tradewind.sdk.dag import DAG
from tradewind.sdk.param import ParamsDict
from tradewind.sdk.task_node import TaskNode
from tradewind.serialization import groups, tasks, values
from tradewind.serialization.errors import SerializationError
from tradewind.timetables import zones

#: Version of the JSON layout; ``deserialize_dag`` refuses any other.
SERIALIZATION_VERSION = 1

# ``schedule=`` was a Timetable object: the "timetable" key says everything.
_SCHEDULE_IS_TIMETABLE = {values.TYPE_KEY: "timetable", values.VALUE_KEY: None}


def _encode_schedule(schedule: Any) -> Any:
    if isinstance(schedule, timetables.Timetable):
        return dict(_SCHEDULE_IS_TIMETABLE)
    return values.encode_value(schedule)


def serialize_dag(dag: DAG) -> dict[str, Any]:
    """The DAG as JSON-compatible data: only str, int, float, bool, None, list and dict.

    The same DAG definition always gives equal data (no addresses, set order or parse time).
    """
    try:
        timetable = dag.timetable.serialize()
        timezone = zones.timezone_name(dag.timezone)
    except TradewindError as exc:
        raise SerializationError(f"DAG {dag.dag_id!r} cannot be serialized: {exc}") from exc
    return {
        "__version": SERIALIZATION_VERSION,
        "dag_id": dag.dag_id,
        "dag_display_name": dag.dag_display_name,
        "description": dag.description,
        "doc_md": dag.doc_md,
        "fileloc": dag.fileloc,
        "definition_line": dag.definition_line,
        "owner": dag.owner,
        "tags": list(dag.tags),
        "timetable": timetable,
        "schedule": _encode_schedule(dag.schedule),
        "timezone": timezone,
        "start_date": values.iso(dag.start_date),
        "end_date": values.iso(dag.end_date),
        "catchup": bool(dag.catchup),
        "max_active_runs": dag.max_active_runs,
        "max_active_tasks": dag.max_active_tasks,
        "dagrun_timeout": None
        if dag.dagrun_timeout is None
        else values.seconds(dag.dagrun_timeout),
        "has_on_success_callback": tasks.has_callback(dag, "on_success_callback"),
        "has_on_failure_callback": tasks.has_callback(dag, "on_failure_callback"),
        "fail_fast": bool(dag.fail_fast),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "template_searchpath": list(dag.template_searchpath),
        "render_template_as_native_obj": bool(dag.render_template_as_native_obj),
        "owner_links": values.encode_value(dict(dag.owner_links)),
        "access_control": values.encode_value(dag.access_control),
        "default_args": values.encode_value(dict(dag.default_args)),
        "params": tasks.encode_params(dag.params),
        "tasks": [tasks.serialize_task(task) for task in dag.task_dict.values()],
        "task_group": groups.encode_group(dag.task_group),
    }


def dumps(dag: DAG | Mapping[str, Any]) -> str:
    """Canonical JSON text of a DAG (or of ``serialize_dag`` output): sorted keys, compact.

    The same DAG gives byte-identical text in every process, so ``content_hash`` of it says
    whether a new dag_version is needed.
    """
    data = serialize_dag(dag) if isinstance(dag, DAG) else dag
    try:
        return values.canonical(data)
    except (TypeError, ValueError) as exc:
        raise SerializationError(f"serialized DAG is not JSON data: {exc}") from exc


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the serialized text, as stored with each dag_version."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _unregistered() -> Iterator[None]:
    """Keep the DAG built here out of the list the DAG file importer collects from.

    DAGs noted by an import in progress in this process are put back untouched.
    """
    earlier = definition_context.take_created_dags()
    try:
        yield
    finally:
        definition_context.take_created_dags()
        for dag in earlier:
            definition_context.note_dag_created(dag)


def deserialize_dag(data: Mapping[str, Any] | str | bytes) -> DAG:
    """A real ``DAG`` from ``serialize_dag`` output or ``dumps`` text, without user code.

    Its tasks are ``SerializedOperator`` (or ``SerializedMappedOperator``) instances. Raises
    ``SerializationError`` when the data is not a serialized DAG of this version.
    """
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise SerializationError(f"serialized DAG is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise SerializationError(f"a serialized DAG is a JSON object, got {type(data).__name__}")
    version = data.get("__version")
    if version != SERIALIZATION_VERSION:
        raise SerializationError(
            f"serialized DAG {data.get('dag_id')!r} has layout version {version!r}; this Tradewind "
            f"reads version {SERIALIZATION_VERSION}: re-parse the DAG file to store it again"
        )
    try:
        with _unregistered():
            return _build(data)
    except SerializationError as exc:
        raise SerializationError(
            f"cannot read serialized DAG {data.get('dag_id')!r}: {exc}"
        ) from exc
    except (TradewindError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SerializationError(
            f"cannot read serialized DAG {data.get('dag_id')!r}: {type(exc).__name__}: {exc}"
        ) from exc


def _build(data: Mapping[str, Any]) -> DAG:
    timetable = timetables.deserialize(data["timetable"])
    dagrun_timeout = values.to_timedelta(data.get("dagrun_timeout"))
    dag = DAG(
        data["dag_id"],
        schedule=timetable,
        start_date=values.to_datetime(data.get("start_date")),
        end_date=values.to_datetime(data.get("end_date")),
        catchup=bool(data.get("catchup")),
        tags=data.get("tags") or (),
        description=data.get("description"),
        doc_md=data.get("doc_md"),
        max_active_runs=data["max_active_runs"],
        max_active_tasks=data["max_active_tasks"],
        dagrun_timeout=dagrun_timeout,
        template_searchpath=data.get("template_searchpath") or None,
        render_template_as_native_obj=bool(data.get("render_template_as_native_obj")),
        is_paused_upon_creation=data.get("is_paused_upon_creation"),
        owner_links=values.decode_value(data.get("owner_links")) or None,
        dag_display_name=data.get("dag_display_name"),
        fail_fast=bool(data.get("fail_fast")),
        access_control=values.decode_value(data.get("access_control")),
    )
    dag.fileloc = data.get("fileloc")
    dag.definition_line = data.get("definition_line")
    dag.timezone = zones.parse_timezone(data["timezone"])
    schedule = data.get("schedule")
    dag.schedule = (
        timetable if schedule == _SCHEDULE_IS_TIMETABLE else values.decode_value(schedule)
    )
    dag.params = ParamsDict(tasks.decode_params(data.get("params")) or {})
    dag.has_on_success_callback = bool(data.get("has_on_success_callback"))  # type: ignore[attr-defined]  # only on read-back DAGs
    dag.has_on_failure_callback = bool(data.get("has_on_failure_callback"))  # type: ignore[attr-defined]  # only on read-back DAGs

    tree = data["task_group"]
    group_by_id = groups.create_groups(dag, tree)
    task_data = data["tasks"]
    for item in task_data:
        tasks.create_task(item, dag)

    def lookup(task_id: str) -> TaskNode:
        try:
            return dag.task_dict[task_id]
        except KeyError:
            raise SerializationError(f"reference to unknown task {task_id!r}") from None

    for item in task_data:
        task = dag.task_dict[item["task_id"]]
        task.upstream_task_ids = {lookup(task_id).task_id for task_id in item["upstream_task_ids"]}
        task.downstream_task_ids = {
            lookup(task_id).task_id for task_id in item["downstream_task_ids"]
        }
        tasks.fill_task(task, item, lookup)
    _check_edges(dag)
    groups.attach_children(dag, tree, group_by_id)
    dag.default_args = values.decode_value(data.get("default_args") or {})
    dag.validate()
    return dag


def _check_edges(dag: DAG) -> None:
    for task in dag.task_dict.values():
        for downstream in task.downstream_task_ids:
            if task.task_id not in dag.task_dict[downstream].upstream_task_ids:
                raise SerializationError(
                    f"edge {task.task_id} -> {downstream} is stored on one side only"
                )
        for upstream in task.upstream_task_ids:
            if task.task_id not in dag.task_dict[upstream].downstream_task_ids:
                raise SerializationError(
                    f"edge {upstream} -> {task.task_id} is stored on one side only"
                )
