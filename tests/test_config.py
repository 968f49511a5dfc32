"""Settings: each is read somewhere, bad values are refused with the setting's name, and the
ones with an effect worth checking here have it (executor, DAG file defaults)."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tradewind import config
from tradewind.dag_processing import importer
from tradewind.exceptions import ConfigError
from tradewind.executors import registry as executors
from tradewind.executors.local import LocalExecutor
from tradewind.sdk.definition_context import DagFileDefaults


def test_max_body_bytes_from_the_environment(tmp_path: Path) -> None:
    environ = {"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__API__MAX_BODY_BYTES": "1048576"}
    assert config.load(environ).get("api", "max_body_bytes") == 1048576
    assert (
        config.load({"TRADEWIND_HOME": str(tmp_path)}).get("api", "max_body_bytes")
        == 4 * 1024 * 1024
    )


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_max_body_bytes_must_be_a_positive_number(tmp_path: Path, value: str) -> None:
    with pytest.raises(
        ConfigError,
        match=r"TRADEWIND__API__MAX_BODY_BYTES: invalid value for \[api\] max_body_bytes",
    ):
        config.load({"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__API__MAX_BODY_BYTES": value})


@pytest.mark.parametrize("value", ["local", "LOCAL", " Local ", "LocalExecutor", "localexecutor"])
def test_executor_accepts_local_in_any_case_and_airflow_spelling(value: str) -> None:
    assert executors.executor_name(value) == "local"


def test_executor_defaults_to_local_and_is_built_with_parallelism(tmp_path: Path) -> None:
    settings = config.load({"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__CORE__PARALLELISM": "3"})
    assert settings.get("core", "executor") == "local"
    executor = executors.create_executor(settings)
    assert isinstance(executor, LocalExecutor) and executor.parallelism == 3
    assert executor.launchers.idle_timeout == 600.0
    airflow_spelling = settings.with_values(core__executor="LocalExecutor")
    assert isinstance(executors.create_executor(airflow_spelling), LocalExecutor)


def test_launcher_idle_timeout_is_the_executors_and_refuses_a_negative_value(
    tmp_path: Path,
) -> None:
    env = {"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__CORE__LAUNCHER_IDLE_TIMEOUT": "42.5"}
    executor = executors.create_executor(config.load(env))
    assert isinstance(executor, LocalExecutor) and executor.launchers.idle_timeout == 42.5
    with pytest.raises(ConfigError, match="LAUNCHER_IDLE_TIMEOUT"):
        config.load({**env, "TRADEWIND__CORE__LAUNCHER_IDLE_TIMEOUT": "-1"})


@pytest.mark.parametrize("value", ["celery", "DistributedExecutor", ""])
def test_an_unknown_executor_is_refused_naming_it_and_the_accepted_ones(
    tmp_path: Path, value: str
) -> None:
    settings = config.load({"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__CORE__EXECUTOR": value})
    with pytest.raises(ConfigError) as caught:
        executors.create_executor(settings)
    assert str(caught.value) == (
        f"[core] executor: unknown executor {value!r} (TRADEWIND__CORE__EXECUTOR); "
        "accepted: local (LocalExecutor)"
    )


def test_dag_file_defaults_come_from_the_settings(tmp_path: Path) -> None:
    environ = {
        "TRADEWIND_HOME": str(tmp_path),
        "TRADEWIND__CORE__DEFAULT_TIMEZONE": "Asia/Seoul",
        "TRADEWIND__CORE__MAX_ACTIVE_RUNS_PER_DAG": "3",
        "TRADEWIND__CORE__MAX_ACTIVE_TASKS_PER_DAG": "5",
    }
    assert importer.file_defaults_from(config.load(environ)) == DagFileDefaults(
        ZoneInfo("Asia/Seoul"), 3, 5
    )
    # Unset, the settings give what the SDK assumes when no settings are applied.
    assert importer.file_defaults_from(config.load({"TRADEWIND_HOME": str(tmp_path)})) == (
        DagFileDefaults()
    )


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("DEFAULT_TIMEZONE", "Mars/Olympus_Mons", "unknown timezone 'Mars/Olympus_Mons'"),
        ("MAX_ACTIVE_RUNS_PER_DAG", "0", "expected a whole number above 0"),
        ("MAX_ACTIVE_TASKS_PER_DAG", "many", "invalid literal"),
    ],
)
def test_dag_file_defaults_are_checked_when_loaded(
    tmp_path: Path, name: str, value: str, why: str
) -> None:
    with pytest.raises(ConfigError, match=rf"TRADEWIND__CORE__{name}: invalid value .*{why}"):
        config.load({"TRADEWIND_HOME": str(tmp_path), f"TRADEWIND__CORE__{name}": value})


def test_default_timezone_from_tradewind_toml(tmp_path: Path) -> None:
    (tmp_path / "tradewind.toml").write_text('[core]\ndefault_timezone = "Europe/Paris"\n')
    settings = config.load({"TRADEWIND_HOME": str(tmp_path)})
    assert settings.get("core", "default_timezone") == "Europe/Paris"
    assert settings.sources[("core", "default_timezone")] == "tradewind.toml"


#: Settings read through a property of ``Settings`` rather than ``settings.get``.
_PROPERTIES = {
    ("core", "dags_folder"): ".dags_folder",
    ("logging", "base_log_folder"): ".log_folder",
    ("database", "url"): ".database_url",
}


def test_every_setting_is_read_somewhere() -> None:
    """A declared setting nothing reads would be a promise the code does not keep."""
    source = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (Path(config.__file__).parent).rglob("*.py")
        if path != Path(config.__file__)
    )
    unread = [
        f"[{section}] {key}"
        for section, key in config.OPTIONS
        if not re.search(rf'\.get\(\s*"{section}",\s*"{key}"\s*\)', source)
        and _PROPERTIES.get((section, key), "\0") not in source
    ]
    assert unread == []


def test_poison_pass_attempts_default_and_environment(tmp_path: Path) -> None:
    home = {"TRADEWIND_HOME": str(tmp_path)}
    assert config.load(home).get("scheduler", "poison_pass_attempts") == 3
    environ = {**home, "TRADEWIND__SCHEDULER__POISON_PASS_ATTEMPTS": "5"}
    assert config.load(environ).get("scheduler", "poison_pass_attempts") == 5
    with pytest.raises(ConfigError, match=r"POISON_PASS_ATTEMPTS"):
        config.load({**home, "TRADEWIND__SCHEDULER__POISON_PASS_ATTEMPTS": "0"})


def test_logging_level_defaults_to_info_and_takes_a_level_name_in_any_case(
    tmp_path: Path,
) -> None:
    assert config.load({"TRADEWIND_HOME": str(tmp_path)}).get("logging", "logging_level") == "INFO"
    (tmp_path / "tradewind.toml").write_text('[logging]\nlogging_level = "debug"\n')
    assert config.load({"TRADEWIND_HOME": str(tmp_path)}).get("logging", "logging_level") == "DEBUG"
    with pytest.raises(
        ConfigError,
        match=r"TRADEWIND__LOGGING__LOGGING_LEVEL: invalid value for \[logging\] logging_level",
    ):
        config.load(
            {"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__LOGGING__LOGGING_LEVEL": "chatty"}
        )


def test_a_short_jwt_secret_is_refused_saying_how_long_it_must_be(tmp_path: Path) -> None:
    env = {"TRADEWIND_HOME": str(tmp_path)}
    with pytest.raises(ConfigError, match=r"TRADEWIND__API_AUTH__JWT_SECRET.*at least 32 bytes"):
        config.load({**env, "TRADEWIND__API_AUTH__JWT_SECRET": "short"})
    secret = "k" * 32
    assert (
        config.load({**env, "TRADEWIND__API_AUTH__JWT_SECRET": secret}).get(
            "api_auth", "jwt_secret"
        )
        == secret
    )
