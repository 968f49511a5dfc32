"""``tradewind dag-processor`` as a real process: it picks up new files and stops on SIGTERM."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from .helpers import dag_source, stored, write

pytestmark = pytest.mark.slow


def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("tradewind")
    if script.exists():
        return [str(script)]
    found = shutil.which("tradewind")
    return [found] if found else [sys.executable, "-m", "tradewind.cli.main"]


def _wait_for(
    condition: object, what: str, process: subprocess.Popen[str], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(
                f"the DAG processor exited with {process.returncode} while waiting for "
                f"{what}:\n{err}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def start_processor(tradewind_env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[str]] = []

    def start(**settings: str) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
        env.update(tradewind_env)
        env["TRADEWIND__DAG_PROCESSOR__REFRESH_INTERVAL"] = "0.2"
        env.update({f"TRADEWIND__DAG_PROCESSOR__{k.upper()}": v for k, v in settings.items()})
        process = subprocess.Popen(
            [*_console_script(), "dag-processor"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _stop(process: subprocess.Popen[str], within: float) -> tuple[float, str]:
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=within + 10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the DAG processor ignored SIGTERM:\n{err}")
    return time.monotonic() - sent, err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_dag_processor_picks_up_new_files_and_stops_on_sigterm(
    start_processor: object,
    engine: Engine,
    tradewind_env: dict[str, str],
) -> None:
    folder = Path(tradewind_env["TRADEWIND_HOME"]) / "dags"
    write(folder / "first.py", dag_source("first"))
    process = start_processor()  # type: ignore[operator]
    _wait_for(lambda: "first" in stored(engine).active, "the first DAG", process)

    write(folder / "later" / "second.py", dag_source("second"))
    write(folder / "broken.py", "from tradewind import DAG\nraise ValueError('broken')\n")
    _wait_for(
        lambda: "second" in stored(engine).active and len(stored(engine).errors) == 1,
        "the added files",
        process,
    )
    (folder / "first.py").unlink()
    _wait_for(lambda: "first" not in stored(engine).active, "the deleted file", process)

    elapsed, err = _stop(process, within=5)
    assert process.returncode == 0, err
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sigterm_during_a_slow_import_stops_at_once(
    start_processor: object,
    engine: Engine,
    tradewind_env: dict[str, str],
) -> None:
    home = Path(tradewind_env["TRADEWIND_HOME"])
    write(home / "dags" / "slow.py", "from tradewind import DAG\nimport time\ntime.sleep(100)\n")
    process = start_processor(file_timeout="60")  # type: ignore[operator]
    log = home / "logs" / "dag_processor" / "slow.py.log"
    _wait_for(log.exists, "the slow file's import to start", process)

    elapsed, err = _stop(process, within=5)
    assert process.returncode == 0, err
    assert elapsed < 5, f"took {elapsed:.1f} s to stop (the file timeout is 60 s)"


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_dag_deleted_by_the_cli_is_back_at_once_while_its_file_stays(
    start_processor: object,
    engine: Engine,
    tradewind_env: dict[str, str],
    tmp_path: Path,
) -> None:
    folder = Path(tradewind_env["TRADEWIND_HOME"]) / "dags"
    write(folder / "kept.py", dag_source("kept"))
    write(folder / "again.py", dag_source("again", tasks=3))
    process = start_processor(refresh_interval="120")  # type: ignore[operator]
    _wait_for(lambda: stored(engine).active == {"kept", "again"}, "the first scan", process)

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")} | tradewind_env
    deleted = subprocess.run(
        [*_console_script(), "dags", "delete", "again", "--yes"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "Deleted DAG again"
    started = time.monotonic()
    # Woken by the delete: long before the next scan is due (120 s).
    _wait_for(
        lambda: "again" in stored(engine).active,
        "the deleted DAG to be stored again",
        process,
        timeout=20,
    )
    waited = time.monotonic() - started
    state = stored(engine)
    assert state.dags["again"].versions == 1 and state.dags["kept"].versions == 1
    elapsed, err = _stop(process, within=5)
    assert process.returncode == 0, err
    assert "is no longer in the metastore: parsing the file again" in err
    print(f"deleted DAG stored again {waited:.2f} s after the delete command returned")
