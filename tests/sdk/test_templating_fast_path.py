"""Rendering without Jinja when no template field holds a template: the same result as Jinja
gives, and no Jinja environment built."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tradewind import DAG, BaseOperator
from tradewind.sdk import templating
from tradewind.services.dag_test import make_run_info


class FieldsOperator(BaseOperator):
    template_fields = ("text", "items")
    template_ext = (".sql",)

    def __init__(self, *, text: Any, items: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.items = items

    def execute(self, context: Any) -> Any:
        return self.text


def _operator(text: Any, items: Any = None, **dag_kwargs: Any) -> FieldsOperator:
    with DAG("fast", schedule=None, start_date=datetime(2024, 1, 1), **dag_kwargs):
        return FieldsOperator(task_id="op", text=text, items=items)


def _context(op: FieldsOperator) -> dict[str, Any]:
    run = make_run_info(op.dag, datetime(2024, 3, 1), {})
    return {"ds": "2024-03-01", "dag_run": run, "params": {}}


PLAIN = [
    "echo hi",
    "",
    "a { b } c",
    "100%",
    "  spaced  ",
    "tab\there",
    "x\ny",
    "{not a tag}",
    "{ {",
    "%}",
]
TEMPLATED = [
    "{{ ds }}",
    "{% if true %}y{% endif %}",
    "a {# note #} b",
    "ends with newline\n",
    "cr\r\nlf",
]


@pytest.mark.parametrize("text", PLAIN + TEMPLATED)
def test_the_fast_path_renders_what_jinja_renders(text: str) -> None:
    fast, slow = _operator(text, ["x", ("y", text)]), _operator(text, ["x", ("y", text)])
    context = _context(fast)
    slow_env = templating.environment_for(slow.dag)
    templating.render_fields(slow, context, slow_env)
    templating.render_fields(fast, context)
    assert (fast.text, fast.items) == (slow.text, slow.items)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_fields_build_no_environment(text: str) -> None:
    op = _operator(text, {"k": [text, 1, None]})
    templating.render_fields(op, _context(op))
    assert op.dag._jinja_env is None
    assert (op.text, op.items) == (text, {"k": [text, 1, None]})


@pytest.mark.parametrize("text", [*TEMPLATED, "query.sql", ["a", "{{ x }}"], {"k": ("b.sql",)}])
def test_templates_and_template_files_use_jinja(text: Any) -> None:
    assert templating.needs_jinja(text, (".sql",))


def test_native_and_custom_syntax_dags_always_use_jinja() -> None:
    native = _operator("123", render_template_as_native_obj=True)
    templating.render_fields(native, _context(native))
    assert native.text == 123  # what NativeEnvironment makes of it
    custom = _operator(
        "<< ds >>",
        jinja_environment_kwargs={"variable_start_string": "<<", "variable_end_string": ">>"},
    )
    templating.render_fields(custom, _context(custom))
    assert custom.text == "2024-03-01"


def test_preload_imports_the_extensions_every_environment_uses() -> None:
    import sys

    templating.preload()
    assert "jinja2.ext" in sys.modules
