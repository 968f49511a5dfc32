"""``tradewind scheduler`` and ``standalone`` refuse a bad setting before they start anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))


@pytest.mark.parametrize("command", ["scheduler", "standalone"])
def test_an_unknown_executor_stops_start_up_with_a_clear_message(
    tmp_path: Path, command: str
) -> None:
    env = {"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__CORE__EXECUTOR": "CeleryExecutor"}
    done = subprocess.run([TRADEWIND, command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert (
        "Error: [core] executor: unknown executor 'CeleryExecutor' (TRADEWIND__CORE__EXECUTOR); "
        "accepted: local (LocalExecutor)"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    # Nothing was started or created: no metastore, no admin password, no DAG folder.
    assert sorted(path.name for path in tmp_path.iterdir()) == []
