"""Calling user functions with the context values they ask for by name."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def context_kwargs(
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """The keyword arguments for ``function``: ``kwargs`` plus the context keys it names.

    A function with ``**kwargs`` receives the whole context; otherwise only the context
    values whose names are parameters not already filled by ``args``/``kwargs``.
    """
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return {**context, **kwargs}
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    filled_by_args = {p.name for p in positional[: len(args)]}
    result = dict(kwargs)
    for param in parameters:
        if param.name in result or param.name in filled_by_args:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.POSITIONAL_ONLY):
            continue
        if param.name in context:
            result[param.name] = context[param.name]
    return result


def call_with_context(
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
) -> Any:
    return function(*args, **context_kwargs(function, args, kwargs, context))
