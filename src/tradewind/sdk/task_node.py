"""What every task in a DAG has, mapped or not: identity, edges, and scheduling attributes.

``BaseOperator`` (one task instance per run) and ``MappedOperator`` (one per element of its
mapped input) both derive from ``TaskNode``, so the DAG, the serializer and the scheduler treat
them alike.
"""

from __future__ import annotations

import inspect
import re
import reprlib
import sys
from collections.abc import Iterable
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.exceptions import DagDefinitionError, InvalidIdError
from tradewind.sdk import definition_context, timezone
from tradewind.sdk.dependencies import DependencyMixin
from tradewind.sdk.trigger_rule import TriggerRule

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.task_group import TaskGroup

KEY_REGEX = re.compile(r"[\w.-]+")  # the whole id must match (fullmatch)
MAX_ID_LENGTH = 250

#: Shows at most a line of any value in an error message: an absurd id (a 1 MB string, a huge
#: list) must not make an absurd message, which the DAG processor would store and show.
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = _SHORT.maxfrozenset = 2
_SHORT.maxlevel = 2


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to about a line."""
    return _SHORT.repr(value)


WEIGHT_RULES = ("downstream", "upstream", "absolute")

#: Scheduling attributes of every task, with their defaults (Airflow's names and defaults).
BASE_DEFAULTS: dict[str, Any] = {
    "owner": "tradewind",
    "email": None,
    "email_on_retry": False,
    "email_on_failure": False,
    "retries": 0,
    "retry_delay": timedelta(seconds=300),
    "retry_exponential_backoff": False,
    "max_retry_delay": None,
    "start_date": None,
    "end_date": None,
    "depends_on_past": False,
    "ignore_first_depends_on_past": True,
    "wait_for_past_depends_before_skipping": False,
    "wait_for_downstream": False,
    "params": None,
    "execution_timeout": None,
    "trigger_rule": TriggerRule.ALL_SUCCESS,
    "pool": "default_pool",
    "pool_slots": 1,
    "priority_weight": 1,
    "weight_rule": "downstream",
    "queue": "default",
    "do_xcom_push": True,
    "multiple_outputs": False,
    "max_active_tis_per_dag": None,
    "max_active_tis_per_dagrun": None,
    "executor_config": None,
    "on_execute_callback": None,
    "on_success_callback": None,
    "on_failure_callback": None,
    "on_retry_callback": None,
    "on_skipped_callback": None,
    "doc_md": None,
    "doc": None,
    "task_display_name": None,
    "map_index_template": None,
}


def validate_key(kind: str, value: Any) -> str:
    """Ids of DAGs, tasks and groups: letters, digits, ``_``, ``-`` and ``.``, at most 250."""
    if not isinstance(value, str) or not value:
        raise InvalidIdError(f"{kind} must be a non-empty string, got {short_repr(value)}")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(
            f"{kind} of {len(value)} characters is longer than the {MAX_ID_LENGTH} allowed: "
            f"{short_repr(value)}"
        )
    if not KEY_REGEX.fullmatch(value):
        raise InvalidIdError(
            f"{kind} {value!r} is invalid: use only letters, digits, underscores, dashes and dots"
        )
    return value


def _as_timedelta(name: str, value: Any, task_id: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise DagDefinitionError(
        f"task {task_id!r}: {name} must be a timedelta or seconds, got {value!r}"
    )


def normalize_base_args(task_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check and convert the scheduling attributes; unknown names are not looked at."""
    out = dict(args)
    rule = out.get("trigger_rule", TriggerRule.ALL_SUCCESS)
    if not TriggerRule.is_valid(str(rule.value if isinstance(rule, TriggerRule) else rule)):
        raise DagDefinitionError(
            f"task {task_id!r}: unknown trigger rule {rule!r}; expected one of "
            + ", ".join(TriggerRule.all_values())
        )
    out["trigger_rule"] = TriggerRule(rule)
    weight_rule = str(out.get("weight_rule", "downstream"))
    if weight_rule not in WEIGHT_RULES:
        raise DagDefinitionError(
            f"task {task_id!r}: unknown weight_rule {weight_rule!r}; expected one of "
            f"{', '.join(WEIGHT_RULES)}"
        )
    out["weight_rule"] = weight_rule
    retries = out.get("retries", 0)
    if retries is None:
        retries = 0
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        try:
            retries = int(retries)
        except (TypeError, ValueError):
            raise DagDefinitionError(
                f"task {task_id!r}: retries must be a whole number, got {retries!r}"
            ) from None
    out["retries"] = retries
    for name in ("retry_delay", "max_retry_delay", "execution_timeout"):
        if name in out:
            out[name] = _as_timedelta(name, out[name], task_id)
    for name in ("pool_slots", "priority_weight"):
        if name in out:
            value = out[name]
            if isinstance(value, bool) or not isinstance(value, int):
                raise DagDefinitionError(
                    f"task {task_id!r}: {name} must be an integer, got {value!r}"
                )
    if out.get("pool_slots", 1) < 1:
        raise DagDefinitionError(
            f"task {task_id!r}: pool_slots must be at least 1, got {out['pool_slots']}"
        )
    if not out.get("pool"):
        out["pool"] = "default_pool"
    for name in ("start_date", "end_date"):
        if out.get(name) is not None:
            out[name] = timezone.coerce_utc(
                out[name], definition_context.current_defaults().timezone
            )
    return out


def caller_location() -> tuple[str, int] | None:
    """File and line of the first frame outside the tradewind package (the user's code)."""
    frame: FrameType | None = sys._getframe(1)
    package_dir = __file__.rsplit("/sdk/", 1)[0] + "/"  # the slash: not tradewind_dags/...
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(package_dir):
            return filename, frame.f_lineno
        frame = frame.f_back
    return None


class TaskNode(DependencyMixin):
    """A task of a DAG: its id, its place in the graph and how it is scheduled."""

    is_mapped: bool = False
    ui_color: str = "#fff"
    ui_fgcolor: str = "#000"

    task_id: str
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]
    task_group: TaskGroup | None
    _dag: DAG | None

    # Attributes from BASE_DEFAULTS, set by _set_base_args.
    owner: str
    retries: int
    retry_delay: timedelta
    retry_exponential_backoff: bool
    max_retry_delay: timedelta | None
    execution_timeout: timedelta | None
    trigger_rule: TriggerRule
    pool: str
    pool_slots: int
    priority_weight: int
    weight_rule: str
    depends_on_past: bool
    wait_for_downstream: bool
    queue: str
    do_xcom_push: bool
    multiple_outputs: bool
    doc_md: str | None
    #: ``accepted_params()`` of each class, cached on the class itself.
    _tw_accepted_params: ClassVar[frozenset[str]]

    def _init_node(self, task_id: str, dag: DAG | None, task_group: TaskGroup | None) -> None:
        validate_key("task_id", task_id)
        self.upstream_task_ids = set()
        self.downstream_task_ids = set()
        self._dag = None
        self.definition_location = caller_location()
        dag = (
            dag
            or (task_group.dag if task_group is not None else None)
            or definition_context.current_dag()
        )
        group = task_group or definition_context.current_group(dag)
        self.task_group = group
        self.task_id = group.child_id(task_id) if group is not None else task_id
        if dag is not None:
            self.dag = dag
        else:
            definition_context.note_orphan(self)

    def _set_base_args(self, args: dict[str, Any]) -> None:
        values = normalize_base_args(self.task_id, {**BASE_DEFAULTS, **args})
        for name in BASE_DEFAULTS:
            setattr(self, name, values[name])
        if self.doc_md is None and values.get("doc"):
            self.doc_md = values["doc"]

    # -- DAG membership -------------------------------------------------------------------
    @property
    def dag(self) -> DAG:
        if self._dag is None:
            raise DagDefinitionError(f"task {self.task_id!r} is not in a DAG")
        return self._dag

    @dag.setter
    def dag(self, dag: DAG) -> None:
        if self._dag is dag:
            return
        if self._dag is not None:
            raise DagDefinitionError(
                f"task {self.task_id!r} already belongs to DAG {self._dag.dag_id!r}; it cannot "
                f"move to {dag.dag_id!r}"
            )
        dag.add_task(self)
        self._dag = dag
        if self.task_group is None or self.task_group.dag is not dag:
            self.task_group = dag.task_group
        self.task_group.add_child(self)
        definition_context.adopt(self)

    @property
    def has_dag(self) -> bool:
        return self._dag is not None

    @property
    def dag_id(self) -> str:
        return self.dag.dag_id

    @property
    def label(self) -> str:
        """The id without its group prefix, as drawn inside the group."""
        if (
            self.task_group is not None
            and self.task_group.group_id
            and self.task_group.prefix_group_id
        ):
            prefix = self.task_group.group_id + "."
            if self.task_id.startswith(prefix):
                return self.task_id[len(prefix) :]
        return self.task_id

    # -- edges ----------------------------------------------------------------------------
    @property
    def roots(self) -> list[Any]:
        return [self]

    @property
    def leaves(self) -> list[Any]:
        return [self]

    def _add_edge_from(self, upstream: TaskNode) -> None:
        if not isinstance(upstream, TaskNode):
            raise TypeError(f"cannot make {upstream!r} upstream of task {self.task_id!r}")
        if upstream._dag is None and self._dag is None:
            raise DagDefinitionError(
                f"tasks {upstream.task_id!r} and {self.task_id!r} are not in any DAG: "
                "create them inside `with DAG(...)` or pass dag="
            )
        if upstream._dag is None:
            upstream.dag = self.dag
        elif self._dag is None:
            self.dag = upstream.dag
        elif upstream._dag is not self._dag:
            raise DagDefinitionError(
                f"tried to set a dependency between tasks of two DAGs: {upstream.task_id!r} in "
                f"{upstream._dag.dag_id!r} and {self.task_id!r} in {self._dag.dag_id!r}"
            )
        self.upstream_task_ids.add(upstream.task_id)
        upstream.downstream_task_ids.add(self.task_id)

    @property
    def upstream_list(self) -> list[TaskNode]:
        return [self.dag.task_dict[task_id] for task_id in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[TaskNode]:
        return [self.dag.task_dict[task_id] for task_id in sorted(self.downstream_task_ids)]

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Every task reachable upstream (or downstream) of this one, not itself."""
        seen: set[str] = set()
        stack = list(self.upstream_task_ids if upstream else self.downstream_task_ids)
        task_dict = self.dag.task_dict
        while stack:
            task_id = stack.pop()
            if task_id in seen:
                continue
            seen.add(task_id)
            node = task_dict[task_id]
            stack.extend(node.upstream_task_ids if upstream else node.downstream_task_ids)
        return seen

    def iter_mapped_dependants(self) -> Iterable[TaskNode]:
        """Mapped tasks directly downstream whose mapped input is this task's output."""
        if self._dag is None:
            return
        for task_id in sorted(self.downstream_task_ids):
            downstream = self._dag.task_dict[task_id]
            if any(arg.operator is self for arg in downstream.mapped_input_xcom_args()):
                yield downstream

    def mapped_input_xcom_args(self) -> list[Any]:
        """The XComArgs this task is mapped over (none for a task that is not mapped)."""
        return []

    @classmethod
    def accepted_params(cls) -> frozenset[str]:
        """Keyword names the constructors in this class's MRO accept (for default_args)."""
        cached = cls.__dict__.get("_tw_accepted_params")
        if cached is not None:
            return cached
        names: set[str] = set(BASE_DEFAULTS)
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            init = inspect.unwrap(init)
            for param in inspect.signature(init).parameters.values():
                if (
                    param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
                    and param.name != "self"
                ):
                    names.add(param.name)
        result = frozenset(names)
        cls._tw_accepted_params = result
        return result

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"
