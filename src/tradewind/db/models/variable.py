"""Variables: global key/value settings users read from DAGs and templates."""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import ID_LEN, Base


class Variable(Base):
    """One variable. ``val`` is Fernet ciphertext when ``is_encrypted``; read it through
    ``tradewind.services.variables``, never directly."""

    __tablename__ = "variable"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    val: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
