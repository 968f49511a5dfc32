"""``BashOperator``: run a bash command; its last line of output is the XCom."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from tradewind import config
from tradewind.exceptions import SkipTask, TradewindError
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.callables import call_with_context
from tradewind.sdk.context import Context
from tradewind.sdk.templating import render_value

#: Seconds a killed command gets to exit after SIGTERM before it is sent SIGKILL.
KILL_GRACE_SECONDS = 5.0


def command_environment(
    env: dict[str, str] | None, append_env: bool, context: Context
) -> dict[str, str]:
    """A bash command's environment: this process's (or ``env``, added to it with
    ``append_env``), the run's ``AIRFLOW_CTX_*`` values, and the homes."""
    if env is None:
        merged = dict(os.environ)
    elif append_env:
        merged = {**os.environ, **env}
    else:
        merged = dict(env)
    merged.update(context_env(context))
    # Commands written for Airflow say ``$AIRFLOW_HOME/...``: unset, that is the root
    # folder. Both homes name Tradewind's home unless the environment says otherwise.
    home = str(config.default_home(os.environ))
    merged.setdefault("TRADEWIND_HOME", home)
    merged.setdefault("AIRFLOW_HOME", home)
    return {str(k): str(v) for k, v in merged.items()}


def context_env(context: Context) -> dict[str, str]:
    """Variables describing the running task, under both TRADEWIND_CTX_ and AIRFLOW_CTX_ names."""
    ti = context.get("ti")
    values = {
        "DAG_ID": getattr(ti, "dag_id", None),
        "TASK_ID": getattr(ti, "task_id", None),
        "DAG_RUN_ID": context.get("run_id"),
        "TRY_NUMBER": getattr(ti, "try_number", None),
        "LOGICAL_DATE": context.get("ts"),
    }
    env: dict[str, str] = {}
    for name, value in values.items():
        if value is not None:
            env[f"TRADEWIND_CTX_{name}"] = str(value)
            env[f"AIRFLOW_CTX_{name}"] = str(value)
    return env


class BashOperator(BaseOperator):
    """Run ``bash_command`` with bash. Exit code ``skip_on_exit_code`` (99) skips the task;
    any other non-zero exit code fails it. stdout and stderr go to the task log."""

    template_fields: Sequence[str] = ("bash_command", "env", "cwd")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}
    template_ext: Sequence[str] = (".sh", ".bash")
    ui_color = "#f0ede4"

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Sequence[int] | None = 99,
        cwd: str | None = None,
        output_processor: Callable[[str], Any] = lambda output: output,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        if skip_on_exit_code is None:
            self.skip_on_exit_code: list[int] = []
        elif isinstance(skip_on_exit_code, int):
            self.skip_on_exit_code = [skip_on_exit_code]
        else:
            self.skip_on_exit_code = list(skip_on_exit_code)
        self.cwd = cwd
        self.output_processor = output_processor
        self._process: subprocess.Popen[bytes] | None = None

    def _environment(self, context: Context) -> dict[str, str]:
        return command_environment(self.env, self.append_env, context)

    def execute(self, context: Context) -> Any:
        if not isinstance(self.bash_command, str) or not self.bash_command.strip():
            raise TradewindError(f"task {self.task_id!r}: bash_command is empty")
        if self.cwd is not None and not os.path.isdir(self.cwd):
            raise TradewindError(f"task {self.task_id!r}: cwd {self.cwd!r} is not a directory")
        self.log.info("Running command: %s", self.bash_command)
        process = subprocess.Popen(
            ["bash", "-c", self.bash_command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.cwd,
            env=self._environment(context),
            start_new_session=True,
        )
        self._process = process
        last_line = ""
        assert process.stdout is not None  # PIPE was requested just above
        with process.stdout:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode(self.output_encoding, errors="backslashreplace").rstrip("\n")
                last_line = line
                self.log.info("%s", line)
        code = process.wait()
        self._process = None
        self.log.info("Command exited with return code %s", code)
        if code in self.skip_on_exit_code:
            raise SkipTask(f"Bash command returned exit code {code}. Skipping.")
        if code != 0:
            raise TradewindError(
                f"Bash command failed. The command returned a non-zero exit code {code}."
            )
        return self.output_processor(last_line)

    def on_kill(self) -> None:
        process = self._process
        if process is None:
            return
        self._process = None
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                continue
        if process.stdout is not None:
            process.stdout.close()


class DecoratedBashOperator(BashOperator):
    """The operator behind ``@task.bash``: the function returns the command to run."""

    custom_operator_name = "@task.bash"
    template_fields: Sequence[str] = ("bash_command", "env", "cwd", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("multiple_outputs", None)
        super().__init__(bash_command="<set at run time>", **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})

    def execute(self, context: Context) -> Any:
        command = call_with_context(self.python_callable, self.op_args, self.op_kwargs, context)
        if not isinstance(command, str) or not command.strip():
            raise TradewindError(
                f"task {self.task_id!r}: the @task.bash function must return a non-empty command "
                f"string, got {command!r}"
            )
        self.bash_command = render_value(
            command, context, self.get_template_env(), tuple(self.template_ext)
        )
        return super().execute(context)
