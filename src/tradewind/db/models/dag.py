"""A DAG as the metastore knows it: its row, its tags and its immutable versions.

The DAG processor writes these; the scheduler and API read them and never import user code.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tradewind.db.base import ID_LEN, Base
from tradewind.db.types import UtcDateTime, utcnow


class Dag(Base):
    """One DAG id: scheduling flags and where its next run falls."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    is_paused: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    fileloc: Mapped[str | None] = mapped_column(String(2000))
    owners: Mapped[str | None] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(Text)
    timetable_summary: Mapped[str | None] = mapped_column(String(1000))
    max_active_runs: Mapped[int | None] = mapped_column(Integer)
    max_active_tasks: Mapped[int | None] = mapped_column(Integer)
    has_import_errors: Mapped[bool] = mapped_column(Boolean, default=False)
    last_parsed_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_data_interval_end: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    next_dagrun_create_after: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # dag <-> dag_version is a cycle; use_alter lets metadata create and drop it in order.
    latest_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dag_version.id", ondelete="SET NULL", use_alter=True)
    )

    tags: Mapped[list[DagTag]] = relationship(
        back_populates="dag",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="DagTag.name",
    )

    __table_args__ = (
        # The scheduler's "which DAGs need a new run" query.
        Index(
            "ix_dag_next_dagrun_create_after", "is_paused", "is_active", "next_dagrun_create_after"
        ),
    )


class DagTag(Base):
    """One tag of one DAG; a table rather than a JSON list so the UI can filter in SQL."""

    __tablename__ = "dag_tag"

    dag_id: Mapped[str] = mapped_column(
        ForeignKey("dag.dag_id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(100), primary_key=True)

    dag: Mapped[Dag] = relationship(back_populates="tags")

    __table_args__ = (Index("ix_dag_tag_name", "name"),)


class DagVersion(Base):
    """The serialized DAG and its source, immutable once written, keyed by content hash.

    A run is pinned to the version current when it was created, so history shows the
    structure and code each run actually ran with.
    """

    __tablename__ = "dag_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dag_id: Mapped[str] = mapped_column(ForeignKey("dag.dag_id", ondelete="CASCADE"))
    version_number: Mapped[int] = mapped_column(Integer)
    serialized_dag: Mapped[str] = mapped_column(Text)
    source_code: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    fileloc: Mapped[str | None] = mapped_column(String(2000))
    #: The ``dag_bundle`` this version's tries import from on a worker without the DAG folder.
    bundle_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("dag_id", "version_number"),
        UniqueConstraint("dag_id", "content_hash"),
    )


class DagBundle(Base):
    """The files a DAG version imports (its DAG file and the helper modules and files beside it,
    within the DAG folder), as one archive keyed by its SHA-256: what a remote worker fetches
    once per version instead of sharing the DAG folder. Versions with the same files share it."""

    __tablename__ = "dag_bundle"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
