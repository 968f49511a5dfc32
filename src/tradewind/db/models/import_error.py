"""Import errors: why a DAG file could not be loaded, one row per file."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import Base
from tradewind.db.types import UtcDateTime, utcnow


class ParseImportError(Base):
    """The last failure to import one DAG file (Airflow's name, avoiding the builtin)."""

    __tablename__ = "import_error"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(1024), unique=True)
    stacktrace: Mapped[str | None] = mapped_column(Text)
    timestamp: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
