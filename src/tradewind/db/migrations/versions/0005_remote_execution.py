"""Remote execution: ``execution_event`` (what remote tries report through the execution API,
until the scheduler applies it), ``dag_bundle`` (the files a DAG version imports, fetched by
workers without the DAG folder), ``dag_version.bundle_hash`` and ``job.executor_class`` (a
scheduler's executor, which the health route shows).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tradewind.db.types import Json, UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "execution_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ti_id", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_execution_event"),
        sa.UniqueConstraint(
            "ti_id", "try_number", "kind", name="uq_execution_event_ti_id_try_number_kind"
        ),
    )
    op.create_table(
        "dag_bundle",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_dag_bundle"),
    )
    with op.batch_alter_table("dag_version") as batch:
        batch.add_column(sa.Column("bundle_hash", sa.String(64), nullable=True))
    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("executor_class", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.drop_column("executor_class")
    with op.batch_alter_table("dag_version") as batch:
        batch.drop_column("bundle_hash")
    op.drop_table("dag_bundle")
    op.drop_table("execution_event")
