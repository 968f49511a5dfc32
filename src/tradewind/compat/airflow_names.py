"""Which Tradewind object each of Airflow's import paths names, for ``airflow_import``.

A module is listed with its names, each ``"tradewind.module:attribute"``. Airflow 3's own
paths (``airflow.sdk``, ``airflow.providers.standard``) come with the legacy spellings Airflow
3 still accepts (``from airflow import DAG``, ``airflow.operators.python``, ...). A module
not listed, or a name not listed in a listed module, fails at import with a message naming
it: a DAG file never runs with something silently different.
"""

from __future__ import annotations

_DAG = "tradewind.sdk.dag:DAG"
_BASE_OPERATOR = "tradewind.sdk.baseoperator:BaseOperator"
_PYTHON = {
    "PythonOperator": "tradewind.operators.python:PythonOperator",
    "BranchPythonOperator": "tradewind.operators.python:BranchPythonOperator",
    "ShortCircuitOperator": "tradewind.operators.python:ShortCircuitOperator",
    "get_current_context": "tradewind.sdk.context:get_current_context",
}
_BASH = {"BashOperator": "tradewind.operators.bash:BashOperator"}
_EMPTY = {"EmptyOperator": "tradewind.operators.empty:EmptyOperator"}
_DUMMY = {**_EMPTY, "DummyOperator": "tradewind.compat.airflow2:DummyOperator"}
_TRIGGER_DAGRUN = {
    "TriggerDagRunOperator": "tradewind.operators.trigger_dagrun:TriggerDagRunOperator"
}
_SENSOR_BASE = {
    "BaseSensorOperator": "tradewind.sensors.base:BaseSensorOperator",
    "PokeReturnValue": "tradewind.sensors.base:PokeReturnValue",
}
_LATEST_ONLY = {"LatestOnlyOperator": "tradewind.operators.latest_only:LatestOnlyOperator"}
_BRANCH_WEEKDAY = {
    "BranchDayOfWeekOperator": "tradewind.operators.branch_moment:BranchDayOfWeekOperator"
}
_BRANCH_DATETIME = {
    "BranchDateTimeOperator": "tradewind.operators.branch_moment:BranchDateTimeOperator"
}
_PYTHON_SENSOR = {"PythonSensor": "tradewind.sensors.python:PythonSensor"}
_FILE_SENSOR = {"FileSensor": "tradewind.sensors.filesystem:FileSensor"}
_EXTERNAL_TASK = {"ExternalTaskSensor": "tradewind.sensors.external_task:ExternalTaskSensor"}
_TIME_DELTA = {"TimeDeltaSensor": "tradewind.sensors.time_delta:TimeDeltaSensor"}
_DATE_TIME = {"DateTimeSensor": "tradewind.sensors.date_time:DateTimeSensor"}
_TIME = {"TimeSensor": "tradewind.sensors.date_time:TimeSensor"}
_WEEKDAY_SENSOR = {"DayOfWeekSensor": "tradewind.sensors.date_time:DayOfWeekSensor"}
_WEEKDAY = {"WeekDay": "tradewind.sdk.weekday:WeekDay"}
_BASH_SENSOR = {"BashSensor": "tradewind.sensors.bash:BashSensor"}
_TRIGGER_RULE = {"TriggerRule": "tradewind.sdk.trigger_rule:TriggerRule"}
_TASK_GROUP = {"TaskGroup": "tradewind.sdk.task_group:TaskGroup"}
_DECORATORS = {
    "dag": "tradewind.sdk.dag:dag",
    "task": "tradewind.decorators:task",
    "task_group": "tradewind.decorators:task_group",
}
_EXCEPTIONS = {
    "AirflowException": "tradewind.exceptions:TradewindError",
    "AirflowSkipException": "tradewind.exceptions:SkipTask",
    "AirflowFailException": "tradewind.exceptions:FailTask",
    "AirflowSensorTimeout": "tradewind.exceptions:SensorTimeout",
    "AirflowRescheduleException": "tradewind.exceptions:RescheduleTask",
    "DuplicateTaskIdFound": "tradewind.exceptions:DuplicateTaskIdError",
    "AirflowDagCycleException": "tradewind.exceptions:CycleError",
    "ParamValidationError": "tradewind.exceptions:ParamValidationError",
}
_TIMEZONE = {
    name: f"tradewind.compat.airflow_timezone:{name}"
    for name in (
        "datetime",
        "utc",
        "utcnow",
        "parse",
        "make_aware",
        "convert_to_utc",
        "is_localized",
        "is_naive",
    )
}
_STATES = {
    "DagRunState": "tradewind.sdk.states:DagRunState",
    "TaskInstanceState": "tradewind.sdk.states:TaskInstanceState",
}

#: Airflow 2's module paths (still found in most DAG folders): each warns once when imported.
LEGACY_MODULES: dict[str, str] = {
    "airflow.operators.dummy": "airflow.providers.standard.operators.empty",
    "airflow.operators.python_operator": "airflow.providers.standard.operators.python",
    "airflow.operators.bash_operator": "airflow.providers.standard.operators.bash",
    "airflow.operators.dummy_operator": "airflow.providers.standard.operators.empty",
    "airflow.operators.dagrun_operator": "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.operators.latest_only_operator": "airflow.providers.standard.operators.latest_only",
    "airflow.sensors.external_task_sensor": "airflow.providers.standard.sensors.external_task",
    "airflow.sensors.python_sensor": "airflow.providers.standard.sensors.python",
    "airflow.sensors.time_sensor": "airflow.providers.standard.sensors.time",
    "airflow.utils.dates": "pendulum or datetime",
}

MODULES: dict[str, dict[str, str]] = {
    "airflow": {"DAG": _DAG},
    "airflow.sdk": {
        "DAG": _DAG,
        "BaseOperator": _BASE_OPERATOR,
        "Param": "tradewind.sdk.param:Param",
        "TaskGroup": _TASK_GROUP["TaskGroup"],
        "XComArg": "tradewind.sdk.xcom_arg:XComArg",
        "chain": "tradewind.sdk.dependencies:chain",
        "cross_downstream": "tradewind.sdk.dependencies:cross_downstream",
        "chain_linear": "tradewind.sdk.dependencies:chain_linear",
        "get_current_context": _PYTHON["get_current_context"],
        "Context": "tradewind.sdk.context:Context",
        "Connection": "tradewind.sdk.connection:Connection",
        "Variable": "tradewind.sdk.variable:Variable",
        "BaseHook": "tradewind.sdk.hooks:BaseHook",
        "TriggerRule": _TRIGGER_RULE["TriggerRule"],
        **_SENSOR_BASE,
        **_DECORATORS,
    },
    "airflow.decorators": _DECORATORS,
    "airflow.models": {
        "DAG": _DAG,
        "BaseOperator": _BASE_OPERATOR,
        "Param": "tradewind.sdk.param:Param",
        "Variable": "tradewind.sdk.variable:Variable",
        "Connection": "tradewind.sdk.connection:Connection",
    },
    "airflow.models.variable": {"Variable": "tradewind.sdk.variable:Variable"},
    "airflow.models.connection": {"Connection": "tradewind.sdk.connection:Connection"},
    "airflow.hooks": {},
    "airflow.hooks.base": {"BaseHook": "tradewind.sdk.hooks:BaseHook"},
    "airflow.utils.helpers": {
        "chain": "tradewind.sdk.dependencies:chain",
        "cross_downstream": "tradewind.sdk.dependencies:cross_downstream",
    },
    "airflow.models.dag": {"DAG": _DAG},
    "airflow.models.baseoperator": {
        "BaseOperator": _BASE_OPERATOR,
        "chain": "tradewind.sdk.dependencies:chain",
        "chain_linear": "tradewind.sdk.dependencies:chain_linear",
        "cross_downstream": "tradewind.sdk.dependencies:cross_downstream",
    },
    "airflow.models.param": {"Param": "tradewind.sdk.param:Param"},
    "airflow.models.xcom_arg": {"XComArg": "tradewind.sdk.xcom_arg:XComArg"},
    "airflow.exceptions": _EXCEPTIONS,
    "airflow.configuration": {"conf": "tradewind.compat.airflow_conf:conf"},
    "airflow.operators": {},
    "airflow.operators.python": _PYTHON,
    "airflow.operators.bash": _BASH,
    "airflow.operators.empty": _EMPTY,
    "airflow.operators.trigger_dagrun": _TRIGGER_DAGRUN,
    "airflow.operators.latest_only": _LATEST_ONLY,
    "airflow.operators.weekday": _BRANCH_WEEKDAY,
    "airflow.operators.datetime": _BRANCH_DATETIME,
    "airflow.operators.latest_only_operator": _LATEST_ONLY,
    "airflow.operators.dummy": _DUMMY,
    "airflow.operators.python_operator": _PYTHON,
    "airflow.operators.bash_operator": _BASH,
    "airflow.operators.dummy_operator": _DUMMY,
    "airflow.operators.dagrun_operator": _TRIGGER_DAGRUN,
    "airflow.sensors": {},
    "airflow.sensors.external_task_sensor": _EXTERNAL_TASK,
    "airflow.sensors.python_sensor": _PYTHON_SENSOR,
    "airflow.sensors.time_sensor": _TIME,
    "airflow.sensors.base": _SENSOR_BASE,
    "airflow.sensors.python": _PYTHON_SENSOR,
    "airflow.sensors.filesystem": _FILE_SENSOR,
    "airflow.sensors.external_task": _EXTERNAL_TASK,
    "airflow.sensors.time_delta": _TIME_DELTA,
    "airflow.sensors.date_time": _DATE_TIME,
    "airflow.sensors.time": _TIME,
    "airflow.sensors.weekday": _WEEKDAY_SENSOR,
    "airflow.sensors.bash": _BASH_SENSOR,
    "airflow.utils": {},
    "airflow.utils.dates": {"days_ago": "tradewind.compat.airflow2:days_ago"},
    "airflow.utils.decorators": {"apply_defaults": "tradewind.compat.airflow2:apply_defaults"},
    "airflow.utils.trigger_rule": _TRIGGER_RULE,
    "airflow.utils.task_group": _TASK_GROUP,
    "airflow.utils.state": _STATES,
    "airflow.utils.timezone": _TIMEZONE,
    "airflow.sdk.timezone": _TIMEZONE,
    "airflow.utils.weekday": _WEEKDAY,
    "airflow.providers.standard.utils": {},
    "airflow.providers.standard.utils.weekday": _WEEKDAY,
    "airflow.providers": {},
    "airflow.providers.standard": {},
    "airflow.providers.standard.operators": {},
    "airflow.providers.standard.operators.python": _PYTHON,
    "airflow.providers.standard.operators.bash": _BASH,
    "airflow.providers.standard.operators.empty": _EMPTY,
    "airflow.providers.standard.operators.trigger_dagrun": _TRIGGER_DAGRUN,
    "airflow.providers.standard.operators.latest_only": _LATEST_ONLY,
    "airflow.providers.standard.operators.weekday": _BRANCH_WEEKDAY,
    "airflow.providers.standard.operators.datetime": _BRANCH_DATETIME,
    "airflow.providers.standard.sensors": {},
    "airflow.providers.standard.sensors.python": _PYTHON_SENSOR,
    "airflow.providers.standard.sensors.filesystem": _FILE_SENSOR,
    "airflow.providers.standard.sensors.external_task": _EXTERNAL_TASK,
    "airflow.providers.standard.sensors.time_delta": _TIME_DELTA,
    "airflow.providers.standard.sensors.date_time": _DATE_TIME,
    "airflow.providers.standard.sensors.time": _TIME,
    "airflow.providers.standard.sensors.weekday": _WEEKDAY_SENSOR,
    "airflow.providers.standard.sensors.bash": _BASH_SENSOR,
}
