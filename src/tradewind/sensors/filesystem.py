"""``FileSensor``: waits for a file or a glob pattern to exist."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import Any

from tradewind.sdk.context import Context
from tradewind.sensors.base import BaseSensorOperator


class FileSensor(BaseSensorOperator):
    """Succeeds when ``filepath`` (a path or glob) matches a file, or a non-empty directory
    when ``recursive`` is false and the match is a directory."""

    template_fields: Sequence[str] = ("filepath",)
    ui_color = "#91818a"

    def __init__(
        self,
        *,
        filepath: str,
        fs_conn_id: str | None = None,
        recursive: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filepath = filepath
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive

    def _base_path(self, context: Context) -> str:
        if not self.fs_conn_id:
            return ""
        connection = context["conn"].get(self.fs_conn_id)
        if connection is None:
            return ""
        extra = getattr(connection, "extra_dejson", {}) or {}
        return str(extra.get("path", ""))

    def poke(self, context: Context) -> bool:
        path = os.path.join(self._base_path(context), self.filepath)
        self.log.info("Poking for file %s", path)
        for match in glob.glob(path, recursive=self.recursive):
            if os.path.isfile(match):
                self.log.info("Found file %s", match)
                return True
            for _, _, files in os.walk(match):
                if files:
                    return True
        return False
