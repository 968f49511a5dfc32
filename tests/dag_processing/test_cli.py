"""``tradewind dags reserialize``, ``dags list-import-errors`` and ``dags list``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from tradewind.cli.main import cli

from .helpers import dag_source, stored, write

HEADER = "from tradewind import DAG  # a DAG file\n"


@pytest.fixture
def home_folder(tradewind_env: dict[str, str]) -> Path:
    folder = Path(tradewind_env["TRADEWIND_HOME"]) / "dags"
    folder.mkdir()
    return folder.resolve()


def invoke(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_reserialize_prints_a_summary_and_exits_0(
    tradewind_env: dict[str, str], home_folder: Path
) -> None:
    write(home_folder / "good.py", dag_source("good"))
    write(home_folder / "bad.py", HEADER + "x = 1\nraise KeyError('missing')\n")
    code, out, err = invoke(tradewind_env, "dags", "reserialize")
    assert code == 0, err
    assert out.startswith("Parsed 2 files in ")
    assert "1 DAGs, 1 new versions, 1 files with import errors, 0 DAGs deactivated" in out
    assert f"Import error in {home_folder / 'bad.py'}: KeyError: 'missing' (bad.py, line 3)" in err

    code, out, _ = invoke(tradewind_env, "dags", "reserialize")  # again: no new versions
    assert code == 0 and "1 DAGs, 0 new versions" in out


def test_list_import_errors_shows_file_message_and_traceback_line(
    tradewind_env: dict[str, str],
    home_folder: Path,
) -> None:
    bad = write(
        home_folder / "bad.py", HEADER + "def load():\n    raise ValueError('no data')\nload()\n"
    )
    assert invoke(tradewind_env, "dags", "reserialize")[0] == 0

    code, out, _ = invoke(tradewind_env, "dags", "list-import-errors")
    assert code == 0
    assert out.startswith(f"{bad}  (")
    assert "ValueError: no data (bad.py, line 3)" in out
    assert f'File "{bad}", line 3, in load' in out and f'File "{bad}", line 4, in <module>' in out

    code, out, _ = invoke(tradewind_env, "dags", "list-import-errors", "-o", "json")
    [error] = json.loads(out)
    assert error["filename"] == str(bad) and "line 3, in load" in error["stacktrace"]

    write(bad, dag_source("fixed"))
    invoke(tradewind_env, "dags", "reserialize")
    assert invoke(tradewind_env, "dags", "list-import-errors")[1].strip() == "No import errors"


def test_dags_list_reads_the_metastore_once_parsed(
    tradewind_env: dict[str, str], home_folder: Path
) -> None:
    write(home_folder / "daily.py", dag_source("daily", schedule="@daily", tags='["etl"]'))
    write(home_folder / "manual.py", dag_source("manual"))
    invoke(tradewind_env, "dags", "reserialize")
    (home_folder / "manual.py").unlink()  # the metastore, not the folder, answers

    code, out, err = invoke(tradewind_env, "dags", "list", "-o", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [row["dag_id"] for row in rows] == ["daily", "manual"]
    daily = rows[0]
    assert daily["fileloc"] == str(home_folder / "daily.py")
    assert daily["owners"] == "tradewind" and daily["is_paused"] is True
    assert daily["schedule"] == daily["timetable_summary"] == "@daily"
    assert daily["tags"] == ["etl"] and daily["next_dagrun"] is not None
    assert rows[1]["next_dagrun"] is None

    code, out, _ = invoke(tradewind_env, "dags", "list")
    header = out.splitlines()[0]
    for column in ("dag_id", "fileloc", "owners", "is_paused", "schedule", "tags", "next_dagrun"):
        assert column in header
    code, out, _ = invoke(tradewind_env, "dags", "list", "-o", "plain")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["daily", "manual"]


def test_dags_list_parses_the_folder_before_any_parse(
    tradewind_env: dict[str, str], home_folder: Path
) -> None:
    write(home_folder / "etl.py", dag_source("etl", schedule="@hourly"))
    write(
        home_folder / "crash.py", HEADER + "import os\nos.abort()\n"
    )  # must not take the command down
    code, out, err = invoke(tradewind_env, "dags", "list", "-o", "json")
    assert code == 0, err
    [row] = json.loads(out)
    assert row["dag_id"] == "etl" and row["schedule"] == "@hourly" and row["is_paused"] is None
    assert "Import error in" in err and "crash.py" in err and "SIGABRT" in err


def test_dags_list_with_dags_folder(
    tradewind_env: dict[str, str], home_folder: Path, tmp_path: Path
) -> None:
    write(home_folder / "stored.py", dag_source("stored"))
    invoke(tradewind_env, "dags", "reserialize")
    other = tmp_path / "other_dags"
    write(other / "elsewhere.py", dag_source("elsewhere"))

    rows = json.loads(
        invoke(tradewind_env, "dags", "list", "-o", "json", "--dags-folder", str(other))[1]
    )
    assert [(row["dag_id"], row["is_paused"]) for row in rows] == [
        ("elsewhere", None)
    ]  # parsed: not in the metastore
    rows = json.loads(
        invoke(tradewind_env, "dags", "list", "-o", "json", "--dags-folder", str(home_folder))[1]
    )
    assert [(row["dag_id"], row["is_paused"]) for row in rows] == [
        ("stored", True)
    ]  # from the metastore


def test_file_timeout_comes_from_the_environment(
    tradewind_env: dict[str, str], home_folder: Path
) -> None:
    write(home_folder / "hangs.py", HEADER + "while True:\n    pass\n")
    write(home_folder / "fine.py", dag_source("fine"))
    env = {**tradewind_env, "TRADEWIND__DAG_PROCESSOR__FILE_TIMEOUT": "1"}
    code, out, err = invoke(env, "dags", "reserialize")
    assert code == 0 and "1 DAGs, 1 new versions, 1 files with import errors" in out
    assert (
        "hangs.py: Timeout: the file took longer than 1 s to import "
        "(TRADEWIND__DAG_PROCESSOR__FILE_TIMEOUT)" in err
    )


def test_dags_delete_asks_first_and_the_dag_comes_back_from_its_file(
    tradewind_env: dict[str, str],
    home_folder: Path,
    engine: Engine,
) -> None:
    write(home_folder / "doomed.py", dag_source("doomed"))
    invoke(tradewind_env, "dags", "reserialize")

    refused = CliRunner().invoke(cli, ["dags", "delete", "doomed"], env=tradewind_env, input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.stderr
    assert stored(engine).active == {"doomed"}

    code, out, err = invoke(tradewind_env, "dags", "delete", "doomed", "--yes")
    assert (code, out.strip()) == (0, "Deleted DAG doomed"), err
    assert stored(engine).dags == {}  # gone from the metastore ...
    code, _, err = invoke(tradewind_env, "dags", "delete", "doomed", "--yes")
    assert code == 1 and "DAG 'doomed' not found" in err

    code, out, _ = invoke(
        tradewind_env, "dags", "reserialize"
    )  # ... until the folder is parsed again
    assert "1 DAGs, 1 new versions" in out
