"""Loading DAG files: every way a file can be wrong is reported with the file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tradewind.dag_processing import dag_bag, discovery
from tradewind.dag_processing.importer import FileImportResult, import_dag_file
from tradewind.sdk import definition_context

HEADER = "from datetime import datetime\nfrom tradewind import DAG, EmptyOperator, task\n"


def load(tmp_path: Path, body: str, name: str = "dag_file.py") -> FileImportResult:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return import_dag_file(path)


def only_problem(result: FileImportResult) -> tuple[str, int | None]:
    assert len(result.problems) == 1, result.problems
    problem = result.problems[0]
    assert Path(problem.filename).name in problem.message or problem.line is None
    return problem.message, problem.line


def test_valid_file_with_several_dags(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        with DAG("first", schedule=None):
            EmptyOperator(task_id="a")

        from tradewind import dag

        @dag(schedule=None)
        def second():
            EmptyOperator(task_id="b")

        second()  # not assigned: still collected

        unused = DAG("third", schedule=None)
        """,
    )
    assert result.problems == []
    assert sorted(d.dag_id for d in result.dags) == ["first", "second", "third"]
    assert {d.fileloc for d in result.dags} == {str(tmp_path / "dag_file.py")}


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        (
            """
            with DAG("cyc", schedule=None):
                extract = EmptyOperator(task_id="extract")
                transform = EmptyOperator(task_id="transform")
                extract >> transform >> extract
            """,
            "cycle detected in DAG 'cyc': extract -> transform -> extract (dag_file.py, line 4)",
            4,
        ),
        (
            """
            with DAG("dup", schedule=None):
                EmptyOperator(task_id="a")
                EmptyOperator(task_id="a")
            """,
            "DuplicateTaskIdError: task id 'a' has already been added to DAG 'dup' (dag_file.py, "
            "line 6)",
            6,
        ),
        (
            """
            with DAG("bad dag id", schedule=None):
                pass
            """,
            "InvalidIdError: dag_id 'bad dag id' is invalid",
            4,
        ),
        (
            """
            with DAG("bad_task_id", schedule=None):
                EmptyOperator(task_id="a/b")
            """,
            "InvalidIdError: task_id 'a/b' is invalid",
            5,
        ),
        (
            """
            with DAG("rule", schedule=None):
                EmptyOperator(task_id="a", trigger_rule="sometimes")
            """,
            "unknown trigger rule 'sometimes'",
            5,
        ),
        (
            """
            with DAG("no_start", schedule="@daily"):
                EmptyOperator(task_id="a")
            """,
            "DAG 'no_start' has schedule '@daily' but no start_date",
            4,
        ),
        (
            """
            with DAG("one", schedule=None):
                @task
                def produce():
                    return 1
                value = produce()
            with DAG("two", schedule=None):
                @task
                def consume(x):
                    return x
                consume(value)
            """,
            "tried to set a dependency between tasks of two DAGs: 'produce' in 'one' and 'consume' "
            "in 'two'",
            13,
        ),
        (
            """
            def helper():
                return {}["missing"]

            with DAG("raises", schedule=None):
                helper()
            """,
            "KeyError: 'missing' (dag_file.py, line 5)",
            5,
        ),
        (
            """
            import sys
            sys.exit(3)
            """,
            "the file called sys.exit(3) while being imported",
            5,
        ),
    ],
    ids=[
        "cycle",
        "duplicate-task",
        "bad-dag-id",
        "bad-task-id",
        "trigger-rule",
        "no-start-date",
        "xcomarg-other-dag",
        "exception",
        "sys-exit",
    ],  # fmt: skip
)
def test_problem_names_the_file_and_line(
    tmp_path: Path, body: str, message: str, line: int
) -> None:
    result = load(tmp_path, body)
    found, found_line = only_problem(result)
    assert message in found
    assert found_line == line
    assert f"(dag_file.py, line {line})" in found
    assert result.problems[0].filename == str(tmp_path / "dag_file.py")


def test_syntax_error(tmp_path: Path) -> None:
    result = load(tmp_path, "x = (\n\nwith DAG('syntax'):\n    pass\n")
    message, line = only_problem(result)
    assert message.startswith("SyntaxError:") and "(dag_file.py, line 3)" in message
    assert line == 3 and result.dags == []


def test_task_outside_any_dag(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        with DAG("inside", schedule=None):
            EmptyOperator(task_id="fine")
        EmptyOperator(task_id="lost")
        """,
    )
    message, line = only_problem(result)
    assert message.startswith("task 'lost' was created outside any DAG (dag_file.py, line 6)")
    assert line == 6
    assert result.dags == []


def test_a_bad_dag_does_not_hide_the_good_ones(tmp_path: Path) -> None:
    result = load(
        tmp_path,
        """
        with DAG("good", schedule=None):
            EmptyOperator(task_id="a")
        with DAG("cyclic", schedule=None):
            a = EmptyOperator(task_id="a")
            a >> a
        """,
    )
    assert [d.dag_id for d in result.dags] == ["good"]
    assert "cycle detected in DAG 'cyclic': a -> a" in only_problem(result)[0]


def test_same_dag_id_twice_in_a_file(tmp_path: Path) -> None:
    result = load(tmp_path, 'a = DAG("twice", schedule=None)\nb = DAG("twice", schedule=None)\n')
    assert [d.dag_id for d in result.dags] == ["twice"]
    assert "DAG id 'twice' is defined twice in this file" in only_problem(result)[0]


def test_a_failed_import_leaves_no_definition_state_behind(tmp_path: Path) -> None:
    load(
        tmp_path,
        'with DAG("half", schedule=None):\n    EmptyOperator(task_id="a")\n    raise '
        'RuntimeError("stop")\n',
    )
    assert definition_context.current_dag() is None
    assert definition_context.take_orphans() == []
    assert definition_context.take_created_dags() == []


def test_folder_loading_discovery_and_ignore_files(tmp_path: Path) -> None:
    (tmp_path / "tw_loading_helpers.py").write_text(
        "GREETING = 'hi'\n"
    )  # no 'dag': not read as a DAG file
    (tmp_path / "uses_helper.py").write_text(
        HEADER
        + "import tw_loading_helpers\n"
        + "with DAG('helped', schedule=None, tags=[tw_loading_helpers.GREETING]):\n    pass\n"
    )
    (tmp_path / "other.py").write_text(HEADER + "DAG('other', schedule=None)\n")
    (tmp_path / "clash.py").write_text(HEADER + "DAG('other', schedule=None)\n")
    (tmp_path / "skipped").mkdir()
    (tmp_path / "skipped" / "ignored.py").write_text(
        HEADER + "raise RuntimeError('never imported')\n"
    )
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "deep.py").write_text(HEADER + "DAG('deep', schedule=None)\n")
    (tmp_path / "nested" / "scratch_notes.py").write_text(
        HEADER + "raise RuntimeError('ignored too')\n"
    )
    (tmp_path / ".tradewindignore").write_text("skipped/\n")
    (tmp_path / "nested" / ".airflowignore").write_text("scratch_*\n")
    files = [p.relative_to(tmp_path).as_posix() for p in discovery.find_dag_files(tmp_path)]
    assert files == ["clash.py", "other.py", "uses_helper.py", "nested/deep.py"]
    assert discovery.find_dag_files(tmp_path / "other.py") == [tmp_path / "other.py"]
    assert "tw_loading_helpers.py" in [
        p.name for p in discovery.find_dag_files(tmp_path, safe_mode=False)
    ]
    bag = dag_bag.load_folder(tmp_path)
    assert sorted(bag.dags) == ["deep", "helped", "other"]
    assert bag.dags["helped"].tags == ["hi"]
    assert bag.files_read == 4
    assert [p.message for p in bag.problems] == [
        f"DAG id 'other' is already defined in {tmp_path / 'clash.py'}"
    ]


def test_load_one_dag_reads_the_files_mentioning_it_first(tmp_path: Path) -> None:
    (tmp_path / "a_broken.py").write_text(HEADER + "raise RuntimeError('broken')\n")
    (tmp_path / "b_wanted.py").write_text(HEADER + "DAG('wanted', schedule=None)\n")
    found, bag = dag_bag.load_dag(tmp_path, "wanted")
    assert found is not None and found.dag_id == "wanted"
    assert bag.files_read == 1 and bag.problems == []
    missing, bag = dag_bag.load_dag(tmp_path, "nothing_like_it")
    assert missing is None and bag.files_read == 2
    assert "RuntimeError: broken" in bag.problems[0].message


def test_dag_made_by_a_factory_in_a_helper_module_belongs_to_the_imported_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "tw_loading_factories.py").write_text(
        "from tradewind import DAG, EmptyOperator\n"
        "def make(dag_id):\n"
        "    with DAG(dag_id, schedule=None) as made:\n"
        "        EmptyOperator(task_id='t')\n"
        "    return made\n"
    )
    (tmp_path / "pipelines.py").write_text(
        "# a tradewind dag file\nfrom tw_loading_factories import make\nfirst = make('first')\n"
    )
    bag = dag_bag.load_folder(tmp_path)
    assert bag.problems == []
    assert bag.dags["first"].fileloc == str(tmp_path / "pipelines.py")
