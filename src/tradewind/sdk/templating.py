"""Jinja rendering of template fields.

jinja2 is imported on first render, not at ``import tradewind``: DAG files are imported far
more often than tasks are rendered, and the import costs tens of milliseconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradewind.exceptions import TemplateError
from tradewind.sdk.param import DagParam
from tradewind.sdk.xcom_arg import XComArg

if TYPE_CHECKING:
    from tradewind.sdk.dag import DAG


def _ds(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _ds_nodash(value: datetime) -> str:
    return value.strftime("%Y%m%d")


def _ts(value: datetime) -> str:
    return value.isoformat()


def _ts_nodash(value: datetime) -> str:
    return value.strftime("%Y%m%dT%H%M%S")


def _ts_nodash_with_tz(value: datetime) -> str:
    return value.isoformat().replace("-", "").replace(":", "")


#: Jinja extensions of every DAG environment.
_EXTENSIONS = ("jinja2.ext.do", "jinja2.ext.loopcontrols")
#: What makes a string a template under the default syntax: a tag or comment, a carriage
#: return (newlines are normalized) or a trailing newline (dropped, ``keep_trailing_newline``
#: being off). A string without any renders to itself.
_TEMPLATE_MARKS = ("{{", "{%", "{#", "\r")

FILTERS = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}


def preload() -> None:
    """Import jinja2 (with the extensions every DAG environment loads) now, in a long-lived
    parent, so forked task processes find it loaded."""
    import jinja2
    import jinja2.ext
    import jinja2.nativetypes

    jinja2.Environment(extensions=list(_EXTENSIONS)).from_string("{{ x }}").render(x=1)
    jinja2.nativetypes.NativeEnvironment(extensions=list(_EXTENSIONS)).from_string(
        "{{ x }}"
    ).render(x=1)


def environment_for(dag: DAG | None) -> Any:
    """The Jinja environment of a DAG (cached on it): search path, macros, filters, native mode."""
    if dag is not None and getattr(dag, "_jinja_env", None) is not None:
        return dag._jinja_env
    import jinja2
    import jinja2.nativetypes

    searchpath: list[str] = []
    native = False
    macros: dict[str, Any] = {}
    filters: dict[str, Any] = dict(FILTERS)
    extra: dict[str, Any] = {}
    if dag is not None:
        if dag.fileloc:
            searchpath.append(os.path.dirname(dag.fileloc))
        searchpath.extend(dag.template_searchpath)
        native = dag.render_template_as_native_obj
        macros = dict(dag.user_defined_macros or {})
        filters.update(dag.user_defined_filters or {})
        extra = dict(dag.jinja_environment_kwargs or {})
    env_class = jinja2.nativetypes.NativeEnvironment if native else jinja2.Environment
    options: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(searchpath or [os.getcwd()]),
        "undefined": jinja2.StrictUndefined,
        "extensions": list(_EXTENSIONS),
        "cache_size": 0 if native else 400,
    }
    options.update(extra)
    env = env_class(**options)
    env.filters.update(filters)
    env.globals.update(macros)
    if dag is not None:
        dag._jinja_env = env
    return env


def render_value(
    value: Any, context: Mapping[str, Any], env: Any, template_ext: tuple[str, ...] = ()
) -> Any:
    """Render a value: strings as templates, containers item by item, XComArgs resolved.

    ``env`` None keeps strings as they are: only for values ``needs_jinja`` said no to.
    """
    if isinstance(value, str):
        if env is None:
            return value
        if template_ext and value.endswith(template_ext):
            template = env.get_template(value)
        else:
            template = env.from_string(value)
        return template.render(**context)
    if isinstance(value, XComArg):
        return value.resolve(context)  # type: ignore[arg-type]  # a task's context is a Context
    if isinstance(value, DagParam):
        return value.resolve(context)
    if isinstance(value, tuple):
        rendered = [render_value(item, context, env, template_ext) for item in value]
        return type(value)(*rendered) if hasattr(value, "_fields") else tuple(rendered)
    if isinstance(value, list):
        return [render_value(item, context, env, template_ext) for item in value]
    if isinstance(value, (set, frozenset)):
        return type(value)(render_value(item, context, env, template_ext) for item in value)
    if isinstance(value, dict):
        return {key: render_value(item, context, env, template_ext) for key, item in value.items()}
    nested = getattr(value, "template_fields", None)
    if nested and not hasattr(value, "execute"):
        for name in nested:
            setattr(value, name, render_value(getattr(value, name), context, env, template_ext))
    return value


def needs_jinja(value: Any, template_ext: tuple[str, ...] = ()) -> bool:
    """Whether rendering ``value`` with a default-syntax, non-native environment could change a
    string in it (XComArgs and params resolve without Jinja)."""
    if isinstance(value, str):
        return (
            any(mark in value for mark in _TEMPLATE_MARKS)
            or value.endswith("\n")
            or bool(template_ext and value.endswith(template_ext))
        )
    if value is None or isinstance(value, (int, float, bytes, XComArg, DagParam)):
        return False
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(needs_jinja(item, template_ext) for item in value)
    if isinstance(value, dict):
        return any(needs_jinja(item, template_ext) for item in value.values())
    nested = getattr(value, "template_fields", None)
    if nested and not hasattr(value, "execute"):
        return any(needs_jinja(getattr(value, name, None), template_ext) for name in nested)
    return False


def _default_syntax(dag: DAG | None) -> bool:
    """Whether the DAG's environment renders text without markers to itself (no native mode, no
    changed delimiters or newline handling)."""
    return dag is None or (
        not dag.render_template_as_native_obj and not dag.jinja_environment_kwargs
    )


def render_fields(task: Any, context: Mapping[str, Any], env: Any = None) -> None:
    """Render each of ``task.template_fields`` in place.

    Without a given ``env``, when no field holds a template (the common case: plain strings,
    XComArgs, params), no Jinja environment is built or used.
    """
    template_ext = tuple(task.template_ext)
    task.prepare_template()
    if env is None:
        dag = task.dag if task.has_dag else None
        fields = [getattr(task, name, None) for name in task.template_fields]
        if _default_syntax(dag) and not any(needs_jinja(value, template_ext) for value in fields):
            for name, value in zip(task.template_fields, fields, strict=True):
                if value is not None:
                    setattr(task, name, render_value(value, context, None, template_ext))
            return
        env = environment_for(dag)
    import jinja2

    for name in task.template_fields:
        value = getattr(task, name, None)
        if value is None:
            continue
        try:
            setattr(task, name, render_value(value, context, env, template_ext))
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(
                f"task {task.task_id!r}: template file {exc.name!r} of field {name!r} was not "
                f"found in {', '.join(env.loader.searchpath)}"
            ) from exc
        except jinja2.TemplateError as exc:
            lineno = getattr(exc, "lineno", None)  # only syntax errors know their line
            where = f" (line {lineno})" if lineno else ""
            raise TemplateError(
                f"task {task.task_id!r}: cannot render field {name!r}{where}: {exc}"
            ) from exc
