"""The tasks of a deserialized DAG: what the scheduler and the UI know of a task, without its code.

A ``SerializedOperator`` stands for one task of a stored DAG. It is a real ``BaseOperator``
(same id, edges, group and scheduling attributes: retries, trigger rule, pool, priority...),
and it remembers what the original operator class said about itself (name, module, colours,
template fields and their values as written in the DAG file, sensor settings, whether it is
an ``EmptyOperator``, which callbacks it has). It never runs: ``execute`` raises, because
only the task runner, which imports the DAG file, has the real task.

A mapped task becomes a ``SerializedMappedOperator``: a ``MappedOperator`` whose
``operator_class`` is ``SerializedOperator`` and whose ``expand_input`` /
``expand_kwargs_input`` hold the literal values and ``XComArg``s of the DAG file, so
``resolve_expansion(pull)`` works in the scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.mapped import UNMAPPING_KEY, MappedOperator
from tradewind.sdk.task_node import BASE_DEFAULTS
from tradewind.serialization.errors import SerializedTaskNotExecutable

if TYPE_CHECKING:
    from tradewind.sdk.context import Context
    from tradewind.sdk.dag import DAG

#: The callbacks of a task; a serialized task only knows whether each was set (``has_<name>``).
CALLBACK_NAMES = tuple(
    name for name in BASE_DEFAULTS if name.startswith("on_") and name.endswith("_callback")
)

#: Sensor settings kept for tasks whose operator is a sensor.
SENSOR_FIELDS = (
    "mode",
    "poke_interval",
    "timeout",
    "soft_fail",
    "exponential_backoff",
    "max_wait",
    "silent_fail",
)


class SerializedTaskMixin:
    """What a serialized task, mapped or not, remembers of its original operator class."""

    #: Class name of the original operator (``BashOperator``, ``DecoratedPythonOperator``).
    task_type: str = ""
    #: Module of the original operator class.
    operator_module: str = ""
    template_ext: Sequence[str] = ()
    template_fields_renderers: dict[str, str] = {}
    #: True when the original operator is a sensor; then the sensor settings below are set.
    is_sensor: bool = False
    mode: str | None = None
    poke_interval: float | None = None
    timeout: float | None = None
    soft_fail: bool | None = None
    exponential_backoff: bool | None = None
    max_wait: float | None = None
    silent_fail: bool | None = None
    has_on_execute_callback: bool = False
    has_on_success_callback: bool = False
    has_on_failure_callback: bool = False
    has_on_retry_callback: bool = False
    has_on_skipped_callback: bool = False
    _inherits_from_empty_operator: bool = False

    task_id: str

    @property
    def inherits_from_empty_operator(self) -> bool:
        """True for ``EmptyOperator`` and its subclasses: the scheduler completes them itself."""
        return self._inherits_from_empty_operator

    @property
    def reschedule(self) -> bool:
        """True for a sensor in ``reschedule`` mode."""
        return self.is_sensor and self.mode == "reschedule"

    def copy_metadata_to(self, other: SerializedTaskMixin) -> None:
        """Give ``other`` this task's class-level facts (used when unmapping)."""
        for name in (
            "task_type",
            "operator_module",
            "template_ext",
            "template_fields_renderers",
            "is_sensor",
            "_inherits_from_empty_operator",
            *SENSOR_FIELDS,
            *(f"has_{cb}" for cb in CALLBACK_NAMES),
        ):
            setattr(other, name, getattr(self, name))


class SerializedOperator(SerializedTaskMixin, BaseOperator):
    """A task read back from a serialized DAG. It has every scheduling attribute and never runs.

    Besides ``BaseOperator``'s attributes it has ``task_type`` and ``operator_module`` (the
    original class), ``operator_name`` (its ``custom_operator_name``, such as ``@task``, or
    the class name), ``template_fields`` / ``template_ext`` / ``template_fields_renderers``,
    ``template_values`` (each template field's value as written in the DAG file; values with
    no JSON form are ``ReprValue``s; each is also set as an attribute of that name unless the
    name is taken), ``is_sensor`` and the sensor settings, ``inherits_from_empty_operator``
    and ``has_on_<event>_callback`` flags (the callbacks themselves are ``None``).
    """

    operator_name: str = "SerializedOperator"
    template_fields: Sequence[str] = ()

    def set_template_values(self, values: dict[str, Any]) -> None:
        """Record the template field values; expose each as an attribute when that is safe."""
        self.template_values = dict(values)
        for name, value in values.items():
            if name in self.__dict__ or hasattr(type(self), name) or name in BASE_DEFAULTS:
                continue
            setattr(self, name, value)

    def execute(self, context: Context) -> Any:
        raise SerializedTaskNotExecutable(
            f"task {self.task_id!r} ({self.operator_module}.{self.task_type}) was read back from a "
            "serialized DAG and has none of its code; only the task runner, which imports the DAG "
            "file, can execute it"
        )

    def __repr__(self) -> str:
        return f"<Task({self.task_type or type(self).__name__}): {self.task_id}>"


class SerializedMappedOperator(SerializedTaskMixin, MappedOperator):
    """A mapped task read back from a serialized DAG.

    ``expand_input`` (or ``expand_kwargs_input``) holds the DAG file's literal lists and
    dicts and ``XComArg``s of the deserialized upstream tasks; literals with no JSON form are
    ``ReprValue``s, which still count as one element each. ``partial_kwargs`` holds only the
    template field values given to ``partial()``.
    """

    def __init__(
        self,
        *,
        task_id: str,
        dag: DAG,
        operator_name: str,
        template_fields: Sequence[str],
        base_args: dict[str, Any],
    ) -> None:
        self._operator_name = operator_name
        self._template_fields = tuple(template_fields)
        super().__init__(SerializedOperator, {"task_id": task_id, "dag": dag, **base_args})

    @property
    def operator_name(self) -> str:
        return self._operator_name

    @property
    def template_fields(self) -> Sequence[str]:
        return self._template_fields

    def unmap(self, mapped_kwargs: dict[str, Any]) -> SerializedOperator:
        """The ``SerializedOperator`` of one map index
        (not added to the DAG); it cannot run either."""
        values = dict(self.partial_kwargs)
        if self.mapped_into:
            values[self.mapped_into] = {**(values.get(self.mapped_into) or {}), **mapped_kwargs}
        else:
            values.update(mapped_kwargs)
        base_args = {**self.base_kwargs, **{k: v for k, v in values.items() if k in BASE_DEFAULTS}}
        for name in CALLBACK_NAMES:
            base_args.pop(name, None)
        base_args[UNMAPPING_KEY] = self
        operator = SerializedOperator(task_id=self.task_id, **base_args)
        self.copy_metadata_to(operator)
        operator.operator_name = self._operator_name
        operator.template_fields = self._template_fields
        operator.ui_color = self.ui_color
        operator.ui_fgcolor = self.ui_fgcolor
        operator.set_template_values(
            {name: values[name] for name in self._template_fields if name in values}
        )
        return operator

    def __repr__(self) -> str:
        return f"<Task(MappedOperator): {self.task_id}>"
