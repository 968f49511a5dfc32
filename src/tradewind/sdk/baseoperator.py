"""``BaseOperator``: the class every task type derives from.

A metaclass wraps each subclass's ``__init__`` so that the DAG's (and task groups')
``default_args`` fill any argument the caller left out, exactly as in Airflow. After the
outermost ``__init__`` returns, XComArgs found in template fields become upstream edges.
"""

from __future__ import annotations

import abc
import functools
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tradewind.exceptions import DagDefinitionError
from tradewind.sdk import templating
from tradewind.sdk.default_args import apply_default_args
from tradewind.sdk.mapped import UNMAPPING_KEY, OperatorPartial
from tradewind.sdk.task_node import BASE_DEFAULTS, TaskNode
from tradewind.sdk.xcom_arg import XComArg, find_xcom_args

if TYPE_CHECKING:
    from tradewind.sdk.context import Context
    from tradewind.sdk.dag import DAG
    from tradewind.sdk.task_group import TaskGroup

_UNMAPPING_KEY = UNMAPPING_KEY


def _wrap_init(init: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if self.__dict__.get("_tw_in_init"):
            init(self, *args, **kwargs)
            return
        self.__dict__["_tw_in_init"] = True
        try:
            if _UNMAPPING_KEY not in kwargs:
                apply_default_args(type(self), kwargs)
            init(self, *args, **kwargs)
        finally:
            self.__dict__["_tw_in_init"] = False
        self._post_init()

    wrapper._tw_wrapped = True  # type: ignore[attr-defined]  # a marker on the function
    return wrapper


class BaseOperatorMeta(abc.ABCMeta):
    """Wraps ``__init__`` of every operator class to apply ``default_args``."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> type:
        init = namespace.get("__init__")
        if init is not None and not getattr(init, "_tw_wrapped", False):
            namespace["__init__"] = _wrap_init(init)
        return super().__new__(mcls, name, bases, namespace, **kwargs)


class BaseOperator(TaskNode, metaclass=BaseOperatorMeta):
    """A unit of work in a DAG. Subclasses implement ``execute(context)``.

    ``template_fields`` names the attributes rendered with Jinja before ``execute``;
    a string value ending in one of ``template_ext`` is read from a template file.
    The return value of ``execute`` is pushed to XCom as ``return_value`` when
    ``do_xcom_push`` is true.
    """

    template_fields: Sequence[str] = ()
    template_ext: Sequence[str] = ()
    template_fields_renderers: dict[str, str] = {}

    def __init__(
        self,
        task_id: str,
        *,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        owner: str = BASE_DEFAULTS["owner"],
        retries: int | None = 0,
        retry_delay: Any = BASE_DEFAULTS["retry_delay"],
        retry_exponential_backoff: bool = False,
        max_retry_delay: Any = None,
        execution_timeout: Any = None,
        trigger_rule: str = "all_success",
        pool: str | None = None,
        pool_slots: int = 1,
        priority_weight: int = 1,
        weight_rule: str = "downstream",
        depends_on_past: bool = False,
        ignore_first_depends_on_past: bool = True,
        wait_for_past_depends_before_skipping: bool = False,
        wait_for_downstream: bool = False,
        queue: str = "default",
        do_xcom_push: bool = True,
        multiple_outputs: bool = False,
        start_date: Any = None,
        end_date: Any = None,
        params: dict[str, Any] | None = None,
        on_execute_callback: Any = None,
        on_success_callback: Any = None,
        on_failure_callback: Any = None,
        on_retry_callback: Any = None,
        on_skipped_callback: Any = None,
        doc_md: str | None = None,
        doc: str | None = None,
        email: Any = None,
        email_on_retry: bool = False,
        email_on_failure: bool = False,
        max_active_tis_per_dag: int | None = None,
        max_active_tis_per_dagrun: int | None = None,
        executor_config: dict[str, Any] | None = None,
        task_display_name: str | None = None,
        map_index_template: str | None = None,
        **kwargs: Any,
    ) -> None:
        unmapped_from = kwargs.pop(_UNMAPPING_KEY, None)
        if wait_for_downstream:
            depends_on_past = True
        if kwargs:
            raise DagDefinitionError(
                f"invalid arguments were passed to {type(self).__name__} (task_id: {task_id}): "
                + ", ".join(f"{key}={value!r}" for key, value in sorted(kwargs.items()))
            )
        base_args = {
            "owner": owner,
            "retries": retries,
            "retry_delay": retry_delay,
            "retry_exponential_backoff": retry_exponential_backoff,
            "max_retry_delay": max_retry_delay,
            "execution_timeout": execution_timeout,
            "trigger_rule": trigger_rule,
            "pool": pool,
            "pool_slots": pool_slots,
            "priority_weight": priority_weight,
            "weight_rule": weight_rule,
            "depends_on_past": depends_on_past,
            "ignore_first_depends_on_past": ignore_first_depends_on_past,
            "wait_for_past_depends_before_skipping": wait_for_past_depends_before_skipping,
            "wait_for_downstream": wait_for_downstream,
            "queue": queue,
            "do_xcom_push": do_xcom_push,
            "multiple_outputs": multiple_outputs,
            "start_date": start_date,
            "end_date": end_date,
            "params": params,
            "on_execute_callback": on_execute_callback,
            "on_success_callback": on_success_callback,
            "on_failure_callback": on_failure_callback,
            "on_retry_callback": on_retry_callback,
            "on_skipped_callback": on_skipped_callback,
            "doc_md": doc_md,
            "doc": doc,
            "email": email,
            "email_on_retry": email_on_retry,
            "email_on_failure": email_on_failure,
            "max_active_tis_per_dag": max_active_tis_per_dag,
            "max_active_tis_per_dagrun": max_active_tis_per_dagrun,
            "executor_config": executor_config,
            "task_display_name": task_display_name,
            "map_index_template": map_index_template,
        }
        if unmapped_from is not None:
            self._init_unmapped(unmapped_from)
        else:
            self._init_node(task_id, dag, task_group)
        self._set_base_args(base_args)
        self.log = logging.getLogger(
            f"tradewind.task.operators.{type(self).__module__}.{type(self).__name__}"
        )

    def _init_unmapped(self, mapped: TaskNode) -> None:
        """An operator built at run time for one map
        index: same id and edges, not added to the DAG."""
        self.task_id = mapped.task_id
        self._dag = mapped._dag
        self.task_group = mapped.task_group
        self.upstream_task_ids = set(mapped.upstream_task_ids)
        self.downstream_task_ids = set(mapped.downstream_task_ids)
        self.definition_location = getattr(mapped, "definition_location", None)
        self.__dict__["_tw_unmapped"] = True

    def _post_init(self) -> None:
        if self.__dict__.get("_tw_unmapped"):
            return
        from_xcom_args = find_xcom_args(
            [getattr(self, name, None) for name in self.template_fields]
        )
        for arg in from_xcom_args:
            self.set_upstream(arg)

    # -- running ----------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        """Do the work of the task. The return value is pushed to XCom."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def pre_execute(self, context: Context) -> None:
        """Called right before ``execute``."""

    def post_execute(self, context: Context, result: Any = None) -> None:
        """Called right after ``execute`` returns."""

    def on_kill(self) -> None:
        """Called when the task is being killed; release external resources here."""

    def prepare_template(self) -> None:
        """Hook run after template files are read and before rendering."""

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render every template field in place with ``context``."""
        templating.render_fields(self, context, jinja_env)

    def get_template_env(self) -> Any:
        return templating.environment_for(self._dag)

    # -- XCom and mapping -----------------------------------------------------------------
    @property
    def output(self) -> XComArg:
        """This task's return value, as an XComArg for passing to other tasks."""
        return XComArg(self)

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Fix some arguments; ``.expand(...)`` then maps the others over lists."""
        return OperatorPartial(cls, kwargs)

    @property
    def inherits_from_empty_operator(self) -> bool:
        return False

    def xcom_push(self, context: Context, key: str, value: Any) -> None:
        context["ti"].xcom_push(key=key, value=value)

    def xcom_pull(
        self, context: Context, task_ids: Any = None, key: str = "return_value", **kwargs: Any
    ) -> Any:
        return context["ti"].xcom_pull(task_ids=task_ids, key=key, **kwargs)
