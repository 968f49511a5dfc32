"""``airflow.configuration.conf`` answers from Tradewind's settings under Airflow's names,
gives the fallback for what Tradewind lacks, and refuses to be set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewind.compat.airflow_conf import AirflowConfigView
from tradewind.exceptions import ConfigError


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AirflowConfigView:
    monkeypatch.setenv("TRADEWIND_HOME", str(tmp_path))
    monkeypatch.setenv("TRADEWIND__CORE__PARALLELISM", "12")
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "false")
    monkeypatch.delenv("TRADEWIND__DATABASE__URL", raising=False)
    return AirflowConfigView()


def test_settings_under_airflow_names(conf: AirflowConfigView, tmp_path: Path) -> None:
    assert conf.get("core", "dags_folder") == str(tmp_path / "dags")
    assert conf.getint("core", "parallelism") == 12
    assert conf.getboolean("core", "dags_are_paused_at_creation") is False
    assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{tmp_path / 'tradewind.db'}"
    assert conf.has_option("CORE", "PARALLELISM")


def test_what_tradewind_lacks_gives_the_fallback_or_an_error(conf: AirflowConfigView) -> None:
    assert conf.get("core", "load_examples", fallback="no") == "no"
    assert conf.getboolean("core", "load_examples", fallback=False) is False
    assert not conf.has_option("core", "load_examples")
    with pytest.raises(ConfigError, match=r"\[core\] load_examples is not a setting"):
        conf.get("core", "load_examples")


def test_conf_cannot_be_set(conf: AirflowConfigView) -> None:
    with pytest.raises(ConfigError, match="read-only"):
        conf.set("core", "parallelism", "3")
