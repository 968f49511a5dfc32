"""An environment written for Airflow: ``AIRFLOW__SECTION__KEY`` variables set the settings
Tradewind has (under Airflow's names where they differ), a ``TRADEWIND__`` value wins, and
``AIRFLOW_HOME`` is the home when ``TRADEWIND_HOME`` is unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewind import config
from tradewind.exceptions import ConfigError


def test_airflow_variables_set_the_settings_of_the_same_name(tmp_path: Path) -> None:
    settings = config.load(
        environ={
            "TRADEWIND_HOME": str(tmp_path),
            "AIRFLOW__CORE__PARALLELISM": "7",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": "/opt/airflow/dags",
            "AIRFLOW__CELERY__BROKER_URL": "redis://redis:6379/0",
        }
    )
    assert settings.get("core", "parallelism") == 7
    assert settings.get("core", "executor") == "CeleryExecutor"
    assert settings.dags_folder == Path("/opt/airflow/dags")
    assert settings.get("celery", "broker_url") == "redis://redis:6379/0"
    assert settings.sources[("core", "parallelism")] == "env (AIRFLOW__CORE__PARALLELISM)"


@pytest.mark.parametrize(
    ("variable", "section", "key"),
    [
        ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "database", "url"),
        ("AIRFLOW__CORE__SQL_ALCHEMY_CONN", "database", "url"),
        ("AIRFLOW__OPERATORS__DEFAULT_QUEUE", "celery", "default_queue"),
        ("AIRFLOW__WEBSERVER__SECRET_KEY", "api", "secret_key"),
    ],
)
def test_airflow_names_of_settings_tradewind_names_otherwise(
    tmp_path: Path, variable: str, section: str, key: str
) -> None:
    settings = config.load(environ={"TRADEWIND_HOME": str(tmp_path), variable: "from-airflow"})
    assert settings.get(section, key) == "from-airflow"
    assert settings.sources[(section, key)] == f"env ({variable})"


def test_airflow_3_s_name_wins_over_airflow_2_s(tmp_path: Path) -> None:
    settings = config.load(
        environ={
            "TRADEWIND_HOME": str(tmp_path),
            "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "sqlite:///old.db",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///new.db",
        }
    )
    assert settings.database_url == "sqlite:///new.db"


def test_a_tradewind_variable_wins_and_toml_yields_to_airflow(tmp_path: Path) -> None:
    (tmp_path / "tradewind.toml").write_text(
        "[core]\nparallelism = 3\nmax_active_runs_per_dag = 4\n"
    )
    settings = config.load(
        environ={
            "TRADEWIND_HOME": str(tmp_path),
            "AIRFLOW__CORE__PARALLELISM": "7",
            "TRADEWIND__CORE__PARALLELISM": "9",
            "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "5",
        }
    )
    assert settings.get("core", "parallelism") == 9
    assert settings.get("core", "max_active_runs_per_dag") == 5


def test_unknown_and_empty_airflow_variables_are_ignored(tmp_path: Path) -> None:
    settings = config.load(
        environ={
            "TRADEWIND_HOME": str(tmp_path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW__CORE__FERNET_KEY": "",
        }
    )
    assert settings.sources[("core", "fernet_key")] == "default"
    assert ("_", "unknown_env") not in settings.sources


def test_a_bad_airflow_value_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AIRFLOW__CORE__PARALLELISM: invalid value"):
        config.load(environ={"TRADEWIND_HOME": str(tmp_path), "AIRFLOW__CORE__PARALLELISM": "many"})


def test_airflow_home_is_the_home_when_tradewind_home_is_unset(tmp_path: Path) -> None:
    airflow_home = tmp_path / "airflow"
    assert config.load(environ={"AIRFLOW_HOME": str(airflow_home)}).home == airflow_home
    both = {"AIRFLOW_HOME": str(airflow_home), "TRADEWIND_HOME": str(tmp_path / "tw")}
    assert config.load(environ=both).home == tmp_path / "tw"
