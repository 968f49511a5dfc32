"""What remote tries report through the execution API, waiting for the scheduler to apply it.

A worker never writes task instance rows itself: the API server records each try's start, end
or death here, and the executor of the scheduler that sent the try reads the rows and reports
them as executor events, so the scheduler applies them exactly as it applies a local try's. A
row is deleted once its event is applied; rows left by a scheduler that died are applied by
the next one.

One kind goes the other way: ``stop`` is written by the executor that sent the try when it is
told to terminate it, and the execution API answers the try's next heartbeat (or its start)
with a refusal, which makes its worker terminate it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tradewind.db.base import Base
from tradewind.db.types import Json, UtcDateTime, utcnow

#: The kind of row asking the worker of a try to stop it (not an event of the try).
STOP = "stop"


class ExecutionEvent(Base):
    """One event of one remote try: ``kind`` is ``started``, ``finished`` or ``died``; or a
    request to stop the try (``STOP``)."""

    __tablename__ = "execution_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ti_id: Mapped[int] = mapped_column(Integer)
    try_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    #: ``started``: hostname, pid, at; ``finished``: the try's ``TaskDone`` wire fields;
    #: ``died``: reason; ``stop``: nothing.
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    #: One event of each kind per try: a second start of a try (a message delivered twice)
    #: or a repeated finish is refused by the database itself.
    __table_args__ = (UniqueConstraint("ti_id", "try_number", "kind"),)
