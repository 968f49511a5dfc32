"""Every kind of bad DAG file yields an import problem naming file and line; others are unaffected.

These tests call ``parse_files`` directly (children, no database); ``test_processor.py``
checks that the same problems reach the metastore.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tradewind.dag_processing import file_parsing
from tradewind.dag_processing.file_parsing import ParsedFile

from .helpers import dag_source, write

HEADER = "from tradewind import DAG, EmptyOperator  # a DAG file\n"

# (file body after HEADER, expected text in the message, line of the problem in the file)
BAD_FILES = {
    "raises": ('x = 1\nraise ValueError("boom")\n', "ValueError: boom", 3),
    "syntax_error": ("def broken(:\n    pass\n", "SyntaxError:", 2),
    "cycle": (
        'with DAG("cyclic", schedule=None) as dag:\n'
        '    a, b, c = (EmptyOperator(task_id=n) for n in "abc")\n'
        "    a >> b >> c >> a\n",
        "cycle detected in DAG 'cyclic': a -> b -> c -> a",
        2,
    ),
    "sys_exit": (
        "import sys\nsys.exit(3)\n",
        "the file called sys.exit(3) while being imported",
        3,
    ),
    "os_exit": ("import os\nos._exit(1)\n", "the file called os._exit(1) while being imported", 3),
    "abort": ("import os\nos.abort()\n", "the interpreter was killed by signal SIGABRT", 3),
    "segfault": (
        "import ctypes\nctypes.string_at(0)\n",
        "the interpreter was killed by signal SIGSEGV",
        3,
    ),
    "task_outside_dag": (
        'with DAG("fine", schedule=None) as dag:\n    EmptyOperator(task_id="inside")\n'
        'EmptyOperator(task_id="lonely")\n',
        "task 'lonely' was created outside any DAG",
        4,
    ),
    "missing_module": (
        "import not_a_module_anywhere\n",
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'",
        2,
    ),
    "keyboard_interrupt": ("raise KeyboardInterrupt\n", "KeyboardInterrupt", None),
    "reads_stdin": ("input()\n", "EOFError", 2),
    "duplicate_dag_id": (
        'with DAG("twice", schedule=None):\n    EmptyOperator(task_id="a")\n'
        'with DAG("twice", schedule=None):\n    EmptyOperator(task_id="b")\n',
        "DAG id 'twice' is defined twice in this file",
        4,
    ),
}


def parse(paths: list[Path], timeout: float = 30.0, **kwargs: object) -> dict[str, ParsedFile]:
    results = file_parsing.parse_files(paths, timeout=timeout, parallelism=3, **kwargs)  # type: ignore[arg-type]
    assert sorted(r.path for r in results) == sorted(paths)
    return {result.path.name: result for result in results}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_gives_a_problem_with_file_and_line_and_spares_the_others(
    tmp_path: Path, kind: str
) -> None:
    body, expected, line = BAD_FILES[kind]
    bad = write(tmp_path / f"{kind}.py", HEADER + body)
    good = write(tmp_path / "good.py", dag_source("good_dag"))
    results = parse([bad, good], log_folder=tmp_path / "logs", folder=tmp_path)

    assert list(results["good.py"].dags) == ["good_dag"] and results["good.py"].problems == []
    problems = results[bad.name].problems
    assert results[bad.name].dags == {} or kind == "duplicate_dag_id"
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.filename == str(bad)
    assert expected in problem.message
    assert problem.line == line
    if line is not None:
        assert f"({bad.name}, line {line})" in problem.message
    if kind not in {"cycle", "task_outside_dag", "duplicate_dag_id"}:  # these have no traceback
        assert str(bad) in problem.traceback
        if line is not None:
            assert f"line {line}" in problem.traceback


def test_a_file_with_two_dags_keeps_the_valid_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "two.py",
        HEADER
        + textwrap.dedent("""\
        with DAG("valid", schedule=None):
            EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
        with DAG("invalid", schedule=None):
            x, y = EmptyOperator(task_id="x"), EmptyOperator(task_id="y")
            x >> y >> x
        """),
    )
    result = parse([path])["two.py"]
    assert list(result.dags) == ["valid"]
    [problem] = result.problems
    assert problem.dag_id == "invalid"
    assert problem.message == "cycle detected in DAG 'invalid': x -> y -> x (two.py, line 4)"


def test_an_exception_in_a_helper_module_names_both_files(tmp_path: Path) -> None:
    write(tmp_path / "helper_lib.py", "def load():\n    raise RuntimeError('helper failed')\n")
    path = write(tmp_path / "uses_helper.py", HEADER + "import helper_lib\nhelper_lib.load()\n")
    [problem] = parse([path], folder=tmp_path, sys_path=[str(tmp_path)])["uses_helper.py"].problems
    assert problem.message == "RuntimeError: helper failed (uses_helper.py, line 3)"
    assert 'helper_lib.py", line 2' in problem.traceback


def test_helper_modules_beside_the_file_and_at_the_folder_top_import(tmp_path: Path) -> None:
    write(tmp_path / "top_helpers.py", "TASKS = 3\n")
    write(tmp_path / "team" / "team_helpers.py", "NAME = 'team_dag'\n")
    path = write(
        tmp_path / "team" / "dag.py",
        HEADER
        + textwrap.dedent("""\
        import team_helpers, top_helpers
        with DAG(team_helpers.NAME, schedule=None):
            for i in range(top_helpers.TASKS):
                EmptyOperator(task_id=f"t{i}")
        """),
    )
    result = parse([path], folder=tmp_path, sys_path=[str(tmp_path)])["dag.py"]
    assert result.problems == [] and list(result.dags) == ["team_dag"]


def test_files_that_hang_are_stopped_at_the_time_limit(tmp_path: Path) -> None:
    spin = write(tmp_path / "spin.py", HEADER + "while True:\n    pass\n")
    sleep = write(tmp_path / "sleep.py", HEADER + "import time\ntime.sleep(100)\n")
    stubborn = write(
        tmp_path / "stubborn.py",
        HEADER
        + textwrap.dedent("""\
        import time
        while True:
            try:
                time.sleep(100)
            except BaseException:
                pass
        """),
    )
    good = write(tmp_path / "good.py", dag_source("good_dag"))
    started = time.monotonic()
    results = file_parsing.parse_files(
        [spin, sleep, stubborn, good], timeout=1.0, parallelism=4, log_folder=tmp_path / "logs"
    )
    elapsed = time.monotonic() - started
    by_name = {r.path.name: r for r in results}
    assert list(by_name["good.py"].dags) == ["good_dag"]
    for name, lines in (("spin.py", {2, 3}), ("sleep.py", {3})):
        [problem] = by_name[name].problems
        assert problem.message.startswith("Timeout: the file took longer than 1 s to import"), (
            problem.message
        )
        assert problem.line in lines and f"({name}, line {problem.line})" in problem.message
        assert f'{name}", line {problem.line}' in problem.traceback
        assert by_name[name].duration < 1.9
    [problem] = by_name["stubborn.py"].problems
    assert "did not stop; it was killed" in problem.message
    # Limit 1 s plus the 1 s grace for the stubborn one; generous margin for a loaded machine.
    assert elapsed < 1.0 + file_parsing.grace_period(1.0) + 3.0


def test_output_of_a_file_goes_to_its_log_not_to_the_parent(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "team" / "chatty.py",
        dag_source(
            "chatty",
            extra=textwrap.dedent("""\
        import sys
        for i in range(100_000):
            print("line", i, "of chatter")
        print("to stderr", file=sys.stderr)
        """),
        ),
    )
    other = write(
        tmp_path / "other" / "chatty.py", dag_source("other_chatty", extra="print('the other one')")
    )
    results = {
        r.path: r
        for r in file_parsing.parse_files(
            [path, other], timeout=30, parallelism=2, log_folder=tmp_path / "logs", folder=tmp_path
        )
    }
    assert list(results[path].dags) == ["chatty"] and list(results[other].dags) == ["other_chatty"]
    assert all(result.problems == [] for result in results.values())
    log = (tmp_path / "logs" / "team" / "chatty.py.log").read_text()
    assert "line 99999 of chatter" in log and "to stderr" in log
    assert (tmp_path / "logs" / "other" / "chatty.py.log").read_text() == "the other one\n"
    out, err = capfd.readouterr()
    assert "chatter" not in out and "to stderr" not in err


def test_a_crash_report_is_kept_from_the_log(tmp_path: Path) -> None:
    path = write(
        tmp_path / "crash.py", HEADER + "print('before the crash')\nimport os\nos.abort()\n"
    )
    [problem] = parse([path], log_folder=tmp_path / "logs")["crash.py"].problems
    assert problem.traceback.startswith("Fatal Python error: Aborted")
    assert f'File "{path}", line 4' in problem.traceback
    assert "before the crash" in (tmp_path / "logs" / "crash.py.log").read_text()


def test_warm_up_builds_a_dag() -> None:
    assert '"dag_id":"tradewind_warm_up"' in file_parsing.warm_up_dag()


class StopAfter(threading.Event):
    """Set by itself once ``seconds`` have passed (no thread: forking stays single-threaded)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.deadline = time.monotonic() + seconds

    def is_set(self) -> bool:
        return time.monotonic() >= self.deadline or super().is_set()


def test_stop_abandons_running_children(tmp_path: Path) -> None:
    sleeper = write(tmp_path / "sleeper.py", HEADER + "import time\ntime.sleep(100)\n")
    quick = write(tmp_path / "quick.py", dag_source("quick"))
    started = time.monotonic()
    results = file_parsing.parse_files(
        [quick, sleeper], timeout=30, parallelism=1, stop=StopAfter(1.0)
    )
    assert [r.path for r in results] == [quick]
    assert time.monotonic() - started < 5


# -- processes a DAG file starts -----------------------------------------------------------------


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for a parent that does not reap it counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.fixture
def pid_file(tmp_path: Path) -> Iterator[Path]:
    """Where the DAG files of these tests write the pids they start; what is left is killed."""
    path = tmp_path / "pids.txt"
    yield path
    for pid in _pids(path):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _spawner(pid_file: Path, then: str = "") -> str:
    """A DAG file that leaves two processes behind: a subprocess and a bare fork."""
    return dag_source(
        "spawner",
        extra=textwrap.dedent(f"""\
        import os, subprocess, time
        child = subprocess.Popen(["sleep", "300"])
        forked = os.fork()
        if forked == 0:
            time.sleep(300)
            os._exit(0)
        with open({str(pid_file)!r}, "a") as pids:
            pids.write(f"{{child.pid}}\\n{{forked}}\\n{{os.getpid()}}\\n")
        """)
        + then,
    )


def test_processes_a_file_starts_are_killed_once_it_is_parsed(
    tmp_path: Path, pid_file: Path
) -> None:
    path = write(tmp_path / "spawner.py", _spawner(pid_file))
    result = parse([path])["spawner.py"]
    assert result.problems == [] and list(result.dags) == ["spawner"]
    pids = _pids(pid_file)
    assert len(pids) == 3
    assert _gone_within(pids, 5), "the processes the DAG file started outlived its parse"


def test_processes_a_hanging_file_starts_are_killed_with_it(tmp_path: Path, pid_file: Path) -> None:
    stubborn = (
        "\nwhile True:\n    try:\n        time.sleep(100)\n"
        "    except BaseException:\n        pass\n"
    )
    path = write(tmp_path / "spawner.py", _spawner(pid_file, then=stubborn))
    [problem] = file_parsing.parse_files(
        [path], timeout=1.0, parallelism=1, log_folder=tmp_path / "logs"
    )[0].problems
    assert "did not stop; it was killed" in problem.message
    pids = _pids(pid_file)
    assert len(pids) == 3 and _gone_within(pids, 5)


def test_a_crash_is_reported_at_once_even_when_a_forked_process_holds_the_pipe(
    tmp_path: Path, pid_file: Path
) -> None:
    path = write(tmp_path / "spawner.py", _spawner(pid_file, then="os.abort()\n"))
    started = time.monotonic()
    [problem] = file_parsing.parse_files([path], timeout=20.0, parallelism=1)[0].problems
    assert "killed by signal SIGABRT" in problem.message, problem.message
    assert time.monotonic() - started < 10  # not the 20 s time limit
    assert _gone_within(_pids(pid_file), 5)


def test_a_forked_process_that_exits_is_not_taken_for_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "forks.py",
        dag_source(
            "forks",
            extra=textwrap.dedent("""\
        import os
        worker = os.fork()
        if worker == 0:
            os._exit(0)
        os.waitpid(worker, 0)
        """),
        ),
    )
    result = parse([path])["forks.py"]
    assert result.problems == [] and list(result.dags) == ["forks"]


@pytest.mark.slow
def test_a_parse_ends_with_the_process_that_started_it(tmp_path: Path, pid_file: Path) -> None:
    path = write(tmp_path / "spawner.py", _spawner(pid_file, then="time.sleep(300)\n"))
    script = (
        "from pathlib import Path\nfrom tradewind.dag_processing import file_parsing\n"
        f"file_parsing.parse_files([Path({str(path)!r})], timeout=120, parallelism=1)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while len(_pids(pid_file)) < 3:
            assert parent.poll() is None and time.monotonic() < deadline, (
                "the file was not imported"
            )
            time.sleep(0.05)
    finally:
        parent.kill()  # as the OOM killer would: no chance to clean up
        parent.wait()
    assert _gone_within(_pids(pid_file), 5), (
        "the parse and what the file started outlived the parent"
    )


class InterruptWhen(threading.Event):
    """Raises ``KeyboardInterrupt`` (a Ctrl-C in a command) once ``condition()`` holds."""

    def __init__(self, condition: Callable[[], bool]) -> None:
        super().__init__()
        self.condition = condition

    def is_set(self) -> bool:
        if self.condition():
            raise KeyboardInterrupt
        return False


def test_an_interrupted_parse_leaves_no_process_behind(tmp_path: Path, pid_file: Path) -> None:
    path = write(tmp_path / "spawner.py", _spawner(pid_file, then="time.sleep(300)\n"))
    with pytest.raises(KeyboardInterrupt):
        file_parsing.parse_files(
            [path],
            timeout=120,
            parallelism=1,
            stop=InterruptWhen(lambda: len(_pids(pid_file)) == 3),
        )
    assert _gone_within(_pids(pid_file), 5)
