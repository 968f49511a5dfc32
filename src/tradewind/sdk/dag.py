"""``DAG`` and ``@dag``: a set of tasks, their dependencies and when to run them."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from datetime import timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from tradewind import timetables
from tradewind.exceptions import CycleError, DagDefinitionError, DuplicateTaskIdError, TaskNotFound
from tradewind.sdk import definition_context, legacy, ordering, timezone
from tradewind.sdk.param import DagParam, Param, ParamsDict
from tradewind.sdk.task_group import TaskGroup
from tradewind.sdk.task_node import caller_location, short_repr, validate_key

#: A keyword left out (``schedule_interval=None`` is a value: no schedule).
_UNSET: Any = object()


def _airflow_2_keyword(dag_id: str, name: str, value: Any, old_name: str) -> Any:
    """Check that Airflow 2's ``old_name`` comes without ``name`` and warn about it once."""
    if value is not None:
        raise DagDefinitionError(f"DAG {dag_id!r}: give {name} or {old_name}, not both")
    legacy.warn_once(f"DAG({old_name}=...)", f"{name}=...", stacklevel=4)
    return value


if TYPE_CHECKING:
    from tradewind.sdk.task_node import TaskNode
    from tradewind.timetables.base import Timetable


class DAG:
    """A workflow: tasks with dependencies, a schedule and run-level settings.

    Use it as a context manager (``with DAG("etl", schedule="@daily", start_date=...)``) or
    through ``@dag``. Naive ``start_date``/``end_date`` values are taken in the default zone
    (``[core] default_timezone``, UTC unless set), which is then also the zone cron schedules
    are evaluated in; an aware ``start_date`` sets that zone instead. ``max_active_runs`` and
    ``max_active_tasks`` left unset are ``[core] max_active_runs_per_dag`` and
    ``max_active_tasks_per_dag`` (16 unless set). The DAG processor applies those settings
    (``definition_context.file_defaults``); the SDK reads no configuration.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        schedule: Any = None,
        start_date: Any = None,
        end_date: Any = None,
        catchup: bool = False,
        default_args: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        tags: Iterable[str] | None = None,
        description: str | None = None,
        doc_md: str | None = None,
        max_active_runs: int | None = None,
        max_active_tasks: int | None = None,
        dagrun_timeout: timedelta | float | None = None,
        on_success_callback: Callable[..., Any] | list[Callable[..., Any]] | None = None,
        on_failure_callback: Callable[..., Any] | list[Callable[..., Any]] | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        render_template_as_native_obj: bool = False,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        is_paused_upon_creation: bool | None = None,
        owner_links: dict[str, str] | None = None,
        dag_display_name: str | None = None,
        fail_fast: bool = False,
        access_control: dict[str, Any] | None = None,
        schedule_interval: Any = _UNSET,
        concurrency: int | None = None,
    ) -> None:
        self.dag_id = validate_key("dag_id", dag_id)
        if schedule_interval is not _UNSET:
            _airflow_2_keyword(dag_id, "schedule", schedule, "schedule_interval")
            schedule = schedule_interval
        if concurrency is not None:
            _airflow_2_keyword(dag_id, "max_active_tasks", max_active_tasks, "concurrency")
            max_active_tasks = concurrency
        location = caller_location()
        self.fileloc: str | None = location[0] if location else None
        self.definition_line: int | None = location[1] if location else None
        self.default_args = dict(default_args or {})
        raw_start = start_date if start_date is not None else self.default_args.get("start_date")
        raw_end = end_date if end_date is not None else self.default_args.get("end_date")
        defaults = definition_context.current_defaults()
        self.timezone: tzinfo = _zone_of(raw_start, defaults.timezone)
        self.start_date = timezone.coerce_utc(raw_start, defaults.timezone)
        self.end_date = timezone.coerce_utc(raw_end, defaults.timezone)
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise DagDefinitionError(
                f"DAG {dag_id!r}: end_date {self.end_date} is before start_date {self.start_date}"
            )
        self.timetable: Timetable = timetables.create_timetable(schedule, self.timezone)
        self.schedule = schedule
        if self.timetable.can_be_scheduled and self.start_date is None:
            raise DagDefinitionError(
                f"DAG {dag_id!r} has schedule {self.timetable.summary!r} but no start_date: "
                "give start_date= (or default_args['start_date']) or schedule=None"
            )
        self.catchup = bool(catchup)
        # As in Airflow, default_args["params"] are merged into the DAG's params (and win over
        # them), and are taken out of default_args so that tasks do not get them as their own.
        self.params = ParamsDict(params)
        for name, value in (self.default_args.pop("params", None) or {}).items():
            self.params[name] = value
        self.params.validate_defaults()
        self.tags = _check_tags(dag_id, tags)
        self.description = description
        self.doc_md = doc_md
        self.max_active_runs = _positive(
            dag_id,
            "max_active_runs",
            defaults.max_active_runs if max_active_runs is None else max_active_runs,
        )
        self.max_active_tasks = _positive(
            dag_id,
            "max_active_tasks",
            defaults.max_active_tasks if max_active_tasks is None else max_active_tasks,
        )
        if isinstance(dagrun_timeout, (int, float)) and not isinstance(dagrun_timeout, bool):
            dagrun_timeout = timedelta(seconds=dagrun_timeout)
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: dagrun_timeout must be a timedelta, got {dagrun_timeout!r}"
            )
        self.dagrun_timeout = dagrun_timeout
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath: list[str] = list(template_searchpath or [])
        self.user_defined_macros = user_defined_macros
        self.user_defined_filters = user_defined_filters
        self.render_template_as_native_obj = render_template_as_native_obj
        self.jinja_environment_kwargs = jinja_environment_kwargs
        self.is_paused_upon_creation = is_paused_upon_creation
        self.owner_links = dict(owner_links or {})
        self.dag_display_name = dag_display_name or dag_id
        self.fail_fast = fail_fast
        self.access_control = access_control
        self.task_dict: dict[str, TaskNode] = {}
        self.task_group = TaskGroup(None, dag=self)
        self._jinja_env: Any = None
        definition_context.note_dag_created(self)

    # -- context manager ----------------------------------------------------------------
    def __enter__(self) -> DAG:
        definition_context.push_dag(self)
        return self

    def __exit__(self, *exc: object) -> None:
        definition_context.pop_dag()

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    # -- tasks ----------------------------------------------------------------------------
    def add_task(self, task: TaskNode) -> None:
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdError(
                f"task id {task.task_id!r} has already been added to DAG {self.dag_id!r}"
            )
        if task.task_id in self.task_group.used_group_ids:
            raise DuplicateTaskIdError(
                f"task id {task.task_id!r} is already a task group id in DAG {self.dag_id!r}"
            )
        self.task_dict[task.task_id] = task

    def add_tasks(self, tasks: Iterable[TaskNode]) -> None:
        for task in tasks:
            task.dag = self

    @property
    def tasks(self) -> list[TaskNode]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> TaskNode:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFound(f"task {task_id!r} not found in DAG {self.dag_id!r}") from None

    @property
    def roots(self) -> list[TaskNode]:
        return [task for task in self.task_dict.values() if not task.upstream_task_ids]

    @property
    def leaves(self) -> list[TaskNode]:
        return [task for task in self.task_dict.values() if not task.downstream_task_ids]

    @property
    def owner(self) -> str:
        return ", ".join(sorted({task.owner for task in self.task_dict.values()}))

    # -- validation -------------------------------------------------------------------------
    def topological_sort(self) -> list[TaskNode]:
        """Tasks in dependency order (stable: definition order among equals); raises on a cycle."""
        self.check_cycle()
        order = ordering.topological_order(
            {task_id: task.downstream_task_ids for task_id, task in self.task_dict.items()}
        )
        return [self.task_dict[task_id] for task_id in order]

    def check_cycle(self) -> None:
        """Raise ``CycleError`` spelling out the cycle, e.g. ``a -> b -> a``."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.task_dict, white)
        for start in self.task_dict:
            if color[start] != white:
                continue
            path: list[str] = [start]
            iterators = [iter(sorted(self.task_dict[start].downstream_task_ids))]
            color[start] = grey
            while iterators:
                nxt = next(iterators[-1], None)
                if nxt is None:
                    color[path.pop()] = black
                    iterators.pop()
                    continue
                if nxt not in color:
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {path[-1]!r} points to unknown task {nxt!r}"
                    )
                if color[nxt] == grey:
                    cycle = path[path.index(nxt) :] + [nxt]
                    raise CycleError(f"cycle detected in DAG {self.dag_id!r}: {' -> '.join(cycle)}")
                if color[nxt] == white:
                    color[nxt] = grey
                    path.append(nxt)
                    iterators.append(iter(sorted(self.task_dict[nxt].downstream_task_ids)))

    def validate(self) -> None:
        """Everything checked when a DAG file is loaded, beyond what construction checks."""
        self.check_cycle()
        for task in self.task_dict.values():
            for upstream_id in task.upstream_task_ids:
                if upstream_id not in self.task_dict:
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: task {task.task_id!r} depends on {upstream_id!r}, "
                        "which is not in this DAG"
                    )

    # -- priorities ---------------------------------------------------------------------------
    def priority_weights(self) -> dict[str, int]:
        """Effective priority of each task under its weight_rule (Airflow's semantics)."""
        weights: dict[str, int] = {}
        for task_id, task in self.task_dict.items():
            if task.weight_rule == "absolute":
                weights[task_id] = task.priority_weight
                continue
            relatives = task.get_flat_relative_ids(upstream=task.weight_rule == "upstream")
            weights[task_id] = task.priority_weight + sum(
                self.task_dict[r].priority_weight for r in relatives
            )
        return weights


def _zone_of(value: Any, naive_zone: tzinfo) -> tzinfo:
    tz = getattr(value, "tzinfo", None)
    return tz if tz is not None else naive_zone


def _positive(dag_id: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DagDefinitionError(
            f"DAG {dag_id!r}: {name} must be a positive integer, got {value!r}"
        )
    return value


def _check_tags(dag_id: str, tags: Iterable[str] | None) -> list[str]:
    result: list[str] = []
    for tag in tags or []:
        if not isinstance(tag, str) or not tag or len(tag) > 100:
            raise DagDefinitionError(
                f"DAG {dag_id!r}: tags must be non-empty strings of at most 100 characters, got "
                f"{short_repr(tag)}"
            )
        if tag not in result:
            result.append(tag)
    return result


def dag(dag_id: Any = None, **dag_kwargs: Any) -> Any:
    """Decorate a function that creates tasks; calling it returns the DAG.

    The DAG id defaults to the function name; its arguments with defaults become DAG params,
    and inside the function they stand for the param's value at run time.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., DAG]:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            params = dict(dag_kwargs.get("params") or {})
            for name, value in bound.arguments.items():
                if name not in params:
                    params[name] = value if isinstance(value, Param) else Param(value)
            options = {**dag_kwargs, "params": params}
            if not options.get("doc_md") and function.__doc__:
                options["doc_md"] = inspect.cleandoc(function.__doc__)
            with DAG(dag_id or function.__name__, **options) as new_dag:
                new_dag.fileloc = inspect.getsourcefile(function) or new_dag.fileloc
                function(**{name: DagParam(name) for name in bound.arguments})
            return new_dag

        return factory

    if callable(dag_id):
        function, dag_id = dag_id, None
        return decorate(function)
    return decorate
