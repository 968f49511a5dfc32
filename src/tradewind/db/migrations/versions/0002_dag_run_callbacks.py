"""DAG callbacks owed by a finished run survive a scheduler crash: ``dag_run.callback_reason``
(what the callback is for) and ``callback_job_id`` (the scheduler job running it).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.add_column(sa.Column("callback_reason", sa.String(20), nullable=True))
        batch.add_column(sa.Column("callback_job_id", sa.Integer(), nullable=True))
        batch.create_index("ix_dag_run_callback_reason", ["callback_reason"])


def downgrade() -> None:
    with op.batch_alter_table("dag_run") as batch:
        batch.drop_index("ix_dag_run_callback_reason")
        batch.drop_column("callback_job_id")
        batch.drop_column("callback_reason")
