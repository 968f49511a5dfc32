"""``BashSensor``: pokes by running a bash command; exit code 0 means the condition is met."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from tradewind.exceptions import FailTask
from tradewind.operators.bash import command_environment
from tradewind.sdk.context import Context
from tradewind.sensors.base import BaseSensorOperator


class BashSensor(BaseSensorOperator):
    """Runs ``bash_command`` at each poke. Exit code 0: done. Any other: poke again; with
    ``retry_exit_code`` only that code pokes again and any other fails the task (Airflow's
    rule)."""

    template_fields: Sequence[str] = ("bash_command", "env")
    template_fields_renderers = {"bash_command": "bash", "env": "json"}

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        output_encoding: str = "utf-8",
        retry_exit_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code

    def poke(self, context: Context) -> bool:
        self.log.info("Running command: %s", self.bash_command)
        done = subprocess.run(
            ["bash", "-c", self.bash_command],
            env=command_environment(self.env, False, context),
            capture_output=True,
            check=False,
        )
        for line in done.stdout.decode(self.output_encoding, errors="replace").splitlines():
            self.log.info("%s", line)
        for line in done.stderr.decode(self.output_encoding, errors="replace").splitlines():
            self.log.info("%s", line)
        self.log.info("Command exited with return code %s", done.returncode)
        if done.returncode == 0:
            return True
        if self.retry_exit_code is not None and done.returncode != self.retry_exit_code:
            raise FailTask(
                f"command exited with {done.returncode}, not {self.retry_exit_code} "
                "(the exit code that pokes again)"
            )
        return False
