"""DAGs as JSON: what the DAG processor stores and the scheduler and UI read, without user code.

``serialize_dag(dag)`` gives JSON-compatible data, ``dumps(dag)`` its canonical text (sorted
keys, compact; byte-identical for the same DAG in every process) and ``content_hash(text)``
the SHA-256 that decides whether a new dag_version is stored. ``deserialize_dag(data)`` gives
back a real ``tradewind.sdk.dag.DAG`` whose tasks are ``SerializedOperator`` /
``SerializedMappedOperator`` instances: same ids, edges, groups, params, schedule and
scheduling attributes; no code (``execute`` raises ``SerializedTaskNotExecutable``).

Layout (version 1)
    Top level: ``__version``, ``dag_id``, ``dag_display_name``, ``description``, ``doc_md``,
    ``fileloc`` (as given), ``definition_line``, ``owner``, ``tags``, ``timetable`` (the
    timetable's own ``serialize()``), ``schedule`` (the ``schedule=`` value), ``timezone``
    (IANA name, ``UTC`` or ``+HH:MM``), ``start_date``/``end_date`` (ISO 8601, UTC),
    ``catchup``, ``max_active_runs``, ``max_active_tasks``, ``dagrun_timeout`` (seconds),
    ``has_on_success_callback``, ``has_on_failure_callback``, ``fail_fast``,
    ``is_paused_upon_creation``, ``template_searchpath``, ``render_template_as_native_obj``,
    ``owner_links``, ``access_control``, ``default_args``, ``params``, ``tasks``,
    ``task_group``.

    ``params``: a list, in order, of ``{"name", "description", "schema", "default"?}``
    (``default`` absent for a required param).

    ``tasks``: a list in definition order; each has ``task_id``, ``is_mapped``,
    ``task_type``, ``operator_module``, ``operator_name``, ``ui_color``, ``ui_fgcolor``,
    ``template_fields``, ``template_ext``, ``template_fields_renderers``,
    ``template_values``, ``inherits_from_empty_operator``, ``sensor`` (null, or ``mode``,
    ``poke_interval``, ``timeout``, ``soft_fail``, ``exponential_backoff``, ``max_wait``,
    ``silent_fail``), ``upstream_task_ids``, ``downstream_task_ids`` (sorted), every
    ``BASE_DEFAULTS`` attribute (timedeltas in seconds, datetimes ISO 8601, ``params`` like
    the DAG's) except callbacks, which are ``has_on_<event>_callback`` booleans. Mapped
    tasks add ``expand_input`` (``[[name, value], ...]`` in argument order) or
    ``expand_kwargs_input``, ``mapped_into`` and ``mapped_argument_names``; their
    ``template_values`` are the template fields given to ``partial()``.

    ``task_group``: the root group, see ``tradewind.serialization.groups``.

    Values with no JSON form (in template values, mapped input, default_args, params) are
    tagged ``{"__type", "__var"}``; see ``tradewind.serialization.values``. A literal that
    cannot be represented is kept as its ``repr`` and read back as a ``ReprValue``.

Not stored: callables (callbacks, ``python_callable``, ``user_defined_macros``/``filters``,
``jinja_environment_kwargs``), non-template operator arguments, task group ``default_args``.
"""

from __future__ import annotations

from tradewind.serialization.dags import (
    SERIALIZATION_VERSION,
    content_hash,
    deserialize_dag,
    dumps,
    serialize_dag,
)
from tradewind.serialization.errors import SerializationError, SerializedTaskNotExecutable
from tradewind.serialization.serialized_operator import SerializedMappedOperator, SerializedOperator
from tradewind.serialization.values import ReprValue

__all__ = [
    "SERIALIZATION_VERSION",
    "ReprValue",
    "SerializationError",
    "SerializedMappedOperator",
    "SerializedOperator",
    "SerializedTaskNotExecutable",
    "content_hash",
    "deserialize_dag",
    "dumps",
    "serialize_dag",
]
