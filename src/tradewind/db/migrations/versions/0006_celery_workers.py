"""Celery workers: ``celery_worker`` (each worker as it last answered the scheduler's remote
control inspection: queues, concurrency, pid, start and last answer), read by the Workers
page, ``GET /api/v2/workers`` and ``tradewind celery list-workers``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradewind.db.types import Json, UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "celery_worker",
        sa.Column("worker_name", sa.String(1000), nullable=False),
        sa.Column("queues", Json, nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("last_heartbeat_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_name", name="pk_celery_worker"),
    )
    op.create_index("ix_celery_worker_last_heartbeat_at", "celery_worker", ["last_heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_celery_worker_last_heartbeat_at", table_name="celery_worker")
    op.drop_table("celery_worker")
