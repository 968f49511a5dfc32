"""Settings: defaults < ``$TRADEWIND_HOME/tradewind.toml`` < ``AIRFLOW__SECTION__KEY`` (where
Tradewind has the setting, ``AIRFLOW_NAMES``) < ``TRADEWIND__SECTION__KEY``.

One ``Settings`` object is loaded at an entry point (CLI command, server start) and passed
down; library code never reads ``os.environ`` itself. Every setting is declared once in
``OPTIONS`` with its default and description, which is also what ``tradewind config list``
prints.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewind.exceptions import ConfigError

ENV_PREFIX = "TRADEWIND__"


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a whole number above 0, got {raw!r}")
    return value


def _log_level(raw: str) -> str:
    name = raw.strip().upper()
    if name not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {raw!r}")
    return name


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:  # also refuses nan
        raise ValueError(f"expected a number of seconds, 0 or more, got {raw!r}")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:  # also refuses nan
        raise ValueError(f"expected a number of seconds above 0, got {raw!r}")
    return value


#: HS256 keys shorter than its digest are guessable, and PyJWT warns on each use of one.
MIN_JWT_SECRET_BYTES = 32


def _jwt_secret(raw: str) -> str:
    if len(raw.encode()) < MIN_JWT_SECRET_BYTES:
        raise ValueError(
            f"expected at least {MIN_JWT_SECRET_BYTES} bytes (e.g. the output of "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), "
            f"got {len(raw.encode())}"
        )
    return raw


def _zone_name(raw: str) -> str:
    name = raw.strip()
    if name.upper() in {"UTC", "Z", "ETC/UTC"}:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {raw!r}; give an IANA name such as Asia/Seoul"
        ) from None
    return name


@dataclasses.dataclass(frozen=True)
class Option:
    """One declared setting."""

    section: str
    key: str
    default: Any
    description: str
    parse: Callable[[str], Any] = str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}__{self.key.upper()}"


def _options(*options: Option) -> dict[tuple[str, str], Option]:
    return {(o.section, o.key): o for o in options}


OPTIONS: dict[tuple[str, str], Option] = _options(
    Option(
        "core", "dags_folder", None, "Folder scanned for DAG files (default $TRADEWIND_HOME/dags)."
    ),
    Option("core", "parallelism", 32, "Most task instances running at once per scheduler.", int),
    Option("core", "dags_are_paused_at_creation", True, "New DAGs start paused.", _parse_bool),
    Option(
        "core",
        "fernet_key",
        None,
        "Fernet key for secrets at rest (generated under $TRADEWIND_HOME when unset).",
        secret=True,
    ),
    Option(
        "core",
        "executor",
        "local",
        "Executor the scheduler runs tasks with: local (LocalExecutor, case-insensitive).",
    ),
    Option(
        "core",
        "default_timezone",
        "UTC",
        "Zone of naive datetimes in DAG files (start_date, end_date), and so of their cron "
        "schedules, e.g. Asia/Seoul.",
        _zone_name,
    ),
    Option(
        "core",
        "max_active_runs_per_dag",
        16,
        "max_active_runs of a DAG whose file does not set it.",
        _positive_int,
    ),
    Option(
        "core",
        "max_active_tasks_per_dag",
        16,
        "max_active_tasks of a DAG whose file does not set it.",
        _positive_int,
    ),
    Option(
        "core", "default_pool_slots", 128, "Slots of default_pool when it is first created.", int
    ),
    Option(
        "core",
        "shutdown_grace",
        60.0,
        "Seconds a stopping scheduler lets running tries finish before it terminates them "
        "(a second SIGTERM or Ctrl-C stops at once; 0: terminate at once).",
        float,
    ),
    Option(
        "core",
        "launcher_idle_timeout",
        600.0,
        "Seconds a warm launcher (a process that has a DAG version loaded and forks its tries) "
        "is kept without tries before it is stopped; the next try of that version pays for "
        "starting one again.",
        _non_negative_float,
    ),
    Option(
        "database",
        "url",
        None,
        "SQLAlchemy URL of the metastore (default SQLite at $TRADEWIND_HOME/tradewind.db).",
        secret=True,
    ),
    Option("database", "busy_timeout_ms", 30000, "SQLite busy timeout in milliseconds.", int),
    Option(
        "dag_processor", "file_timeout", 30.0, "Seconds one DAG file may take to import.", float
    ),
    Option("dag_processor", "parsing_processes", 2, "DAG files imported in parallel.", int),
    Option(
        "dag_processor", "refresh_interval", 5.0, "Seconds between scans of the DAG folder.", float
    ),
    Option(
        "scheduler",
        "heartbeat_timeout",
        30.0,
        "Seconds without heartbeat before a running task is declared dead.",
        float,
    ),
    Option("scheduler", "task_heartbeat_interval", 5.0, "Seconds between task heartbeats.", float),
    Option(
        "scheduler",
        "max_loop_interval",
        5.0,
        "Longest the scheduler sleeps when nothing wakes it.",
        float,
    ),
    Option(
        "scheduler",
        "poison_pass_attempts",
        3,
        "Failed scheduler passes in a row after which the events they carry are tried one by "
        "one and those that fail alone are set aside (their task failed); also the passes a "
        "DAG version may fail to load in before its runs are failed.",
        _positive_int,
    ),
    Option(
        "logging", "base_log_folder", None, "Folder of task logs (default $TRADEWIND_HOME/logs)."
    ),
    Option(
        "logging",
        "logging_level",
        "INFO",
        "Level of the log of the scheduler, the DAG processor and standalone (DEBUG adds a line "
        "per scheduler pass: its duration and how many runs and task instances it decided).",
        _log_level,
    ),
    Option("api", "host", "0.0.0.0", "Address the API server listens on."),
    Option("api", "port", 8080, "Port the API server listens on.", int),
    Option(
        "api",
        "secret_key",
        None,
        "Key signing sessions and tokens (generated under $TRADEWIND_HOME when unset).",
        secret=True,
    ),
    Option(
        "api", "access_token_expiration", 86400, "Seconds an API access token stays valid.", int
    ),
    Option(
        "api",
        "max_body_bytes",
        4 * 1024 * 1024,
        "Largest request body the API server reads, in bytes; a larger one is answered 413.",
        _positive_int,
    ),
    Option(
        "webserver", "default_ui_timezone", "UTC", "Zone the UI shows times in, e.g. Asia/Seoul."
    ),
    Option(
        "core",
        "execution_api_server_url",
        None,
        "URL of the execution API that remote workers talk to, e.g. http://api:8080/execution/ "
        "(default http://127.0.0.1:<[api] port>/execution/).",
    ),
    Option(
        "api_auth",
        "jwt_secret",
        None,
        "Key signing the per-try tokens of the execution API; shared by schedulers and API "
        "servers, never given to workers (required by the celery executor; 32 bytes or more).",
        _jwt_secret,
        secret=True,
    ),
    Option(
        "execution_api",
        "jwt_expiration_time",
        600,
        "Seconds a running try's execution API token stays valid; each heartbeat renews it.",
        _positive_int,
    ),
    Option(
        "execution_api",
        "queued_token_expiration",
        86400,
        "Seconds a queued try's token (which can only start the try and fetch its DAG bundle) "
        "stays valid: the longest a try may wait in the broker.",
        _positive_int,
    ),
    Option(
        "celery",
        "broker_url",
        "redis://127.0.0.1:6379/0",
        "Celery broker: redis://... or amqp://... (RabbitMQ).",
        secret=True,
    ),
    Option(
        "celery",
        "default_queue",
        "default",
        "Queue of tasks that do not set queue=; workers without --queues listen on it.",
    ),
    Option(
        "celery",
        "worker_concurrency",
        16,
        "Tries one worker runs at once (tradewind celery worker --concurrency).",
        _positive_int,
    ),
    Option(
        "celery",
        "worker_shutdown_grace",
        60.0,
        "Seconds a worker told to stop (SIGTERM) lets its running tries finish before it "
        "terminates them.",
        _non_negative_float,
    ),
    Option(
        "celery",
        "worker_inspect_interval",
        10.0,
        "Seconds between two questions of the scheduler's celery executor to the workers "
        "(Celery remote control: their queues, concurrency, pid); a worker that did not answer "
        "the last two is shown as lost.",
        _positive_float,
    ),
    Option(
        "celery",
        "worker_seen_window",
        300.0,
        "Seconds a worker stays listed (Workers page, GET /api/v2/workers, tradewind celery "
        "list-workers) after it last answered or last heartbeat a try.",
        _positive_float,
    ),
)


#: Airflow's names of the settings Tradewind has under another name (Airflow 3's, then the
#: Airflow 2 names deployments still set), read from ``AIRFLOW__SECTION__KEY`` so that an
#: environment written for Airflow needs few changes. A setting whose section and key are the
#: same in both needs no entry. Airflow settings Tradewind does not have are ignored.
AIRFLOW_NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("database", "sql_alchemy_conn"): ("database", "url"),
    ("core", "sql_alchemy_conn"): ("database", "url"),
    ("operators", "default_queue"): ("celery", "default_queue"),
    ("dag_processor", "dag_file_processor_timeout"): ("dag_processor", "file_timeout"),
    ("core", "dag_file_processor_timeout"): ("dag_processor", "file_timeout"),
    ("scheduler", "dag_dir_list_interval"): ("dag_processor", "refresh_interval"),
    ("scheduler", "task_instance_heartbeat_timeout"): ("scheduler", "heartbeat_timeout"),
    ("scheduler", "scheduler_zombie_task_threshold"): ("scheduler", "heartbeat_timeout"),
    ("scheduler", "task_instance_heartbeat_sec"): ("scheduler", "task_heartbeat_interval"),
    ("webserver", "secret_key"): ("api", "secret_key"),
    ("webserver", "web_server_port"): ("api", "port"),
    ("webserver", "web_server_host"): ("api", "host"),
}
AIRFLOW_ENV_PREFIX = "AIRFLOW__"


def default_home(environ: Mapping[str, str]) -> Path:
    """``$TRADEWIND_HOME``, else ``$AIRFLOW_HOME`` (an Airflow deployment's home serves as
    is), else ``~/tradewind``."""
    raw = environ.get("TRADEWIND_HOME") or environ.get("AIRFLOW_HOME")
    return Path(raw).expanduser() if raw else Path.home() / "tradewind"


def _airflow_values(environ: Mapping[str, str]) -> dict[tuple[str, str], tuple[str, str]]:
    """Tradewind setting -> (raw value, variable) from ``AIRFLOW__SECTION__KEY`` variables.
    When two Airflow names give one setting, Airflow 3's (listed first) wins."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    priority = {name: rank for rank, name in enumerate(AIRFLOW_NAMES)}
    ranks: dict[tuple[str, str], int] = {}
    for name, raw in environ.items():
        # Empty is Airflow's way of leaving a setting at its default (its compose file says
        # ``AIRFLOW__CORE__FERNET_KEY: ''``).
        if not name.startswith(AIRFLOW_ENV_PREFIX) or name.count("__") != 2 or not raw:
            continue
        airflow_key = _key_of(name)
        target = AIRFLOW_NAMES.get(airflow_key, airflow_key)
        if target not in OPTIONS:
            continue
        rank = priority.get(airflow_key, -1)  # the same name in both outranks a renamed one
        if target not in found or rank < ranks[target]:
            found[target] = (raw, name)
            ranks[target] = rank
    return found


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved settings. Read values with ``settings.get(section, key)``."""

    home: Path
    values: Mapping[tuple[str, str], Any]
    sources: Mapping[tuple[str, str], str]

    def get(self, section: str, key: str) -> Any:
        try:
            return self.values[(section, key)]
        except KeyError:
            raise ConfigError(f"unknown setting [{section}] {key}") from None

    def with_values(self, **overrides: Any) -> Settings:
        """A copy with ``section__key=value`` overrides (used by CLI flags and tests)."""
        values = dict(self.values)
        sources = dict(self.sources)
        for name, value in overrides.items():
            section, _, key = name.partition("__")
            if (section, key) not in OPTIONS:
                raise ConfigError(f"unknown setting [{section}] {key}")
            values[(section, key)] = value
            sources[(section, key)] = "override"
        return dataclasses.replace(self, values=values, sources=sources)

    @property
    def dags_folder(self) -> Path:
        raw = self.get("core", "dags_folder")
        return Path(raw).expanduser() if raw else self.home / "dags"

    @property
    def log_folder(self) -> Path:
        raw = self.get("logging", "base_log_folder")
        return Path(raw).expanduser() if raw else self.home / "logs"

    @property
    def database_url(self) -> str:
        raw = self.get("database", "url")
        return raw or f"sqlite:///{self.home / 'tradewind.db'}"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every option from defaults, ``tradewind.toml`` and the environment."""
    environ = os.environ if environ is None else environ
    home = default_home(environ)
    from_file = _read_toml(home / "tradewind.toml")
    from_airflow = _airflow_values(environ)
    values: dict[tuple[str, str], Any] = {}
    sources: dict[tuple[str, str], str] = {}
    for (section, key), option in OPTIONS.items():
        value, source = option.default, "default"
        if key in from_file.get(section, {}):
            value, source = from_file[section][key], "tradewind.toml"
            if isinstance(value, str) and option.parse is not str:
                value = _parse(option, value, "tradewind.toml")
        if (section, key) in from_airflow:
            raw, name = from_airflow[(section, key)]
            value, source = _parse(option, raw, name), f"env ({name})"
        if option.env_var in environ:
            value, source = _parse(option, environ[option.env_var], option.env_var), "env"
        values[(section, key)] = value
        sources[(section, key)] = source
    unknown = sorted(
        name
        for name in environ
        if name.startswith(ENV_PREFIX) and _key_of(name) not in OPTIONS and name.count("__") == 2
    )
    if unknown:
        sources = {**sources, ("_", "unknown_env"): ",".join(unknown)}
    return Settings(home=home, values=values, sources=sources)


def _key_of(env_name: str) -> tuple[str, str]:
    _, section, key = env_name.split("__", 2)
    return section.lower(), key.lower()


def _parse(option: Option, raw: str, where: str) -> Any:
    try:
        return option.parse(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{where}: invalid value for [{option.section}] {option.key}: {exc}"
        ) from exc


def _read_toml(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
