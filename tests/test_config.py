"""Settings read from the environment: bad values are refused with the setting's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewind import config
from tradewind.exceptions import ConfigError


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


def test_poison_pass_attempts_default_and_environment(tmp_path: Path) -> None:
    home = {"TRADEWIND_HOME": str(tmp_path)}
    assert config.load(home).get("scheduler", "poison_pass_attempts") == 3
    environ = {**home, "TRADEWIND__SCHEDULER__POISON_PASS_ATTEMPTS": "5"}
    assert config.load(environ).get("scheduler", "poison_pass_attempts") == 5
    with pytest.raises(ConfigError, match=r"POISON_PASS_ATTEMPTS"):
        config.load({**home, "TRADEWIND__SCHEDULER__POISON_PASS_ATTEMPTS": "0"})
