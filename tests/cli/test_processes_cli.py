"""``tradewind scheduler`` and ``standalone`` refuse a bad setting before they start anything."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

TRADEWIND = str(Path(sys.executable).with_name("tradewind"))


@pytest.mark.parametrize("command", ["scheduler", "standalone"])
def test_an_unknown_executor_stops_start_up_with_a_clear_message(
    tmp_path: Path, command: str
) -> None:
    env = {"TRADEWIND_HOME": str(tmp_path), "TRADEWIND__CORE__EXECUTOR": "KubernetesExecutor"}
    done = subprocess.run([TRADEWIND, command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert (
        "Error: [core] executor: unknown executor 'KubernetesExecutor' "
        "(TRADEWIND__CORE__EXECUTOR); accepted: local (LocalExecutor), celery (CeleryExecutor)"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    # Nothing was started or created: no metastore, no admin password, no DAG folder.
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def _session_members(session_id: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[4]) == session_id:
                members.append(int(entry.name))
    return members


def test_standalone_whose_metastore_cannot_be_set_up_ends_with_its_api_server(
    tmp_path: Path,
) -> None:
    """The API server's process starts before the migration; when the migration fails it
    never serves and ends with standalone."""
    db = tmp_path / "tradewind.db"
    sqlite3.connect(db).execute("CREATE TABLE variable (id INTEGER PRIMARY KEY)").connection.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "TRADEWIND_HOME": str(tmp_path),
        "TRADEWIND__API__HOST": "127.0.0.1",
        "TRADEWIND__API__PORT": str(port),
    }
    standalone = subprocess.Popen(
        [TRADEWIND, "standalone"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    _out, err = standalone.communicate(timeout=60)
    assert standalone.returncode == 1, err
    assert "creating the schema of" in err and "table variable already exists" in err
    assert "Traceback" not in err
    assert "Tradewind is running" not in err
    assert _session_members(standalone.pid) == []
