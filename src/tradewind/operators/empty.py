"""``EmptyOperator``: a task that does nothing; useful to join or fan out branches."""

from __future__ import annotations

from typing import Any

from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import Context


class EmptyOperator(BaseOperator):
    """Does nothing. The scheduler marks it done without starting a process."""

    ui_color = "#e8f7e4"

    @property
    def inherits_from_empty_operator(self) -> bool:
        return True

    def execute(self, context: Context) -> Any:
        return None
