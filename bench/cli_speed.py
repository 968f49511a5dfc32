"""The ``tradewind`` command as a user meets it: each figure is one command started as a new
process, timed from start to exit (wall clock), the interpreter's start-up and imports included.

The home is fresh, its metastore (SQLite, or PostgreSQL with ``--db postgres``) holds one
parsed DAG (``tradewind dags reserialize``) and no server runs: the commands read and write the
metastore themselves, as they must when nothing else is up. One unmeasured call of each
command comes first, so every measured one finds the files in the page cache; the modules are
byte-compiled (``startup.byte_compile``), as an installed package has them.
"""

from __future__ import annotations

import dataclasses
import shutil
import textwrap

from bench import procs
from bench.figures import BenchError, FigureSet, Target
from bench.harness import TRADEWIND, tradewind_env
from bench.workloads import Context

DAG_ID = "cli_bench"
#: The run ``tasks states-for-dag-run`` reads (triggered during the set-up).
RUN_ID = "cli_bench_run"
DAG_FILE = textwrap.dedent(f"""\
    from datetime import datetime

    from tradewind import DAG, BashOperator

    with DAG("{DAG_ID}", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False):
        extract = BashOperator(task_id="extract", bash_command="true")
        transform = BashOperator(task_id="transform", bash_command="true")
        load = BashOperator(task_id="load", bash_command="true")
        extract >> transform >> load
""")


@dataclasses.dataclass(frozen=True)
class CliCommand:
    key: str
    argv: tuple[str, ...]
    target_ms: float

    @property
    def label(self) -> str:
        return f"CLI: `tradewind {' '.join(self.argv)}`, whole process"


COMMANDS = (
    CliCommand("cli.help", ("--help",), 100),
    CliCommand("cli.dags_list", ("dags", "list"), 200),
    CliCommand("cli.dags_trigger", ("dags", "trigger", DAG_ID), 200),
    CliCommand("cli.states_for_dag_run", ("tasks", "states-for-dag-run", DAG_ID, RUN_ID), 200),
)


def run_cli(ctx: Context, figures: FigureSet) -> None:
    """Every command of ``COMMANDS``, ``max(repeat, 5)`` times each, round-robin."""
    home = ctx.work / "cli-home"
    shutil.rmtree(home, ignore_errors=True)
    dags = home / "dags"
    dags.mkdir(parents=True)
    (dags / f"{DAG_ID}.py").write_text(DAG_FILE, encoding="utf-8")
    env = tradewind_env(home, dags, ctx.db)

    def call(argv: tuple[str, ...]) -> float:
        done = procs.run_timed([TRADEWIND, *argv], env=env, timeout=120, what=argv[0])
        if done.returncode != 0:
            raise BenchError(
                f"tradewind {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()[-300:]}"
            )
        return done.seconds * 1000

    ctx.notes.append(
        "CLI: each command a new process, start to exit; fresh home with 1 parsed DAG "
        f"(@daily, 3 tasks) in the {ctx.db.kind} metastore, no server running; one "
        "unmeasured call of each command first."
    )
    try:
        for argv in (
            ("db", "migrate"),
            ("dags", "reserialize"),
            ("dags", "trigger", DAG_ID, "--run-id", RUN_ID),
        ):
            call(argv)
        for command in COMMANDS:
            call(command.argv)
        for rep in range(max(ctx.repeat, 5)):
            took = []
            for command in COMMANDS:
                ms = call(command.argv)
                figures.add(
                    command.key,
                    command.label,
                    "ms",
                    ms,
                    target=Target("<", command.target_ms),
                )
                took.append(f"{command.key} {ms:.0f} ms")
            ctx.log(f"cli {rep + 1}: {', '.join(took)}")
    except BenchError as exc:
        ctx.log(f"cli FAILED: {exc}")
        for command in COMMANDS:
            figures.fail(
                command.key,
                command.label,
                "ms",
                str(exc).splitlines()[0],
                target=Target("<", command.target_ms),
            )
