"""Python callables as tasks: ``PythonOperator``, branching and short-circuiting."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tradewind.exceptions import DagDefinitionError
from tradewind.operators.branch import BranchMixIn, skip_all_downstream
from tradewind.sdk import legacy
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.callables import call_with_context
from tradewind.sdk.context import Context


class PythonOperator(BaseOperator):
    """Call ``python_callable(*op_args, **op_kwargs)``; context values it names are passed too."""

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        provide_context: bool | None = None,
        **kwargs: Any,
    ) -> None:
        if provide_context is not None:  # Airflow 2: the context is always provided now
            legacy.warn_once("PythonOperator(provide_context=...)", "nothing: it always is")
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {kwargs.get('task_id')!r}: python_callable must be callable, got "
                f"{python_callable!r}"
            )
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: Context) -> Any:
        context = Context(context)
        context["templates_dict"] = self.templates_dict
        result = self.execute_callable(context)
        if self.show_return_value_in_logs:
            self.log.info("Done. Returned value was: %s", _short(result))
        else:
            self.log.info("Done. Returned value not shown")
        return result

    def execute_callable(self, context: Context) -> Any:
        return call_with_context(self.python_callable, self.op_args, self.op_kwargs, context)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 1000 else text[:1000] + "..."


class BranchPythonOperator(PythonOperator, BranchMixIn):
    """The callable returns the task id(s) to follow; other direct downstream tasks are skipped."""

    ui_color = "#ffd3b4"

    def execute(self, context: Context) -> Any:
        return self.do_branch(context, super().execute(context))


class ShortCircuitOperator(PythonOperator):
    """When the callable returns a falsy value, skip downstream tasks.

    With ``ignore_downstream_trigger_rules=True`` (default) every downstream task is skipped;
    with False only the direct downstream ones, and the others follow their trigger rules.
    """

    ui_color = "#f0e4ec"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Context) -> Any:
        condition = super().execute(context)
        if condition:
            self.log.info("Condition is true: proceeding with downstream tasks")
            return condition
        skipped = skip_all_downstream(self, context, recursive=self.ignore_downstream_trigger_rules)
        self.log.info("Condition is false: skipping %s", skipped)
        return condition


class DecoratedPythonOperator(PythonOperator):
    """The operator behind ``@task``: its callable's return value is the XCom."""

    custom_operator_name = "@task"

    def __init__(self, *, multiple_outputs: bool = False, **kwargs: Any) -> None:
        super().__init__(
            multiple_outputs=multiple_outputs, show_return_value_in_logs=True, **kwargs
        )


class DecoratedBranchOperator(BranchPythonOperator):
    custom_operator_name = "@task.branch"


class DecoratedShortCircuitOperator(ShortCircuitOperator):
    custom_operator_name = "@task.short_circuit"
