"""Sessions end when they should: ``user.session_stamp`` (carried by bearer tokens, replaced on
a new password, role or deactivation) and ``user_session`` (one row per signed-in UI browser,
deleted on sign-out).

Existing users get a random stamp each; tokens issued before this revision carry none and are
refused, so API clients ask for a new token once.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from tradewind.db.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("session_stamp", sa.String(32), nullable=True))
    user = sa.table("user", sa.column("id", sa.Integer), sa.column("session_stamp", sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(user.c.id)).all():
        bind.execute(
            user.update().where(user.c.id == user_id).values(session_stamp=secrets.token_hex(16))
        )
    with op.batch_alter_table("user") as batch:
        batch.alter_column("session_stamp", existing_type=sa.String(32), nullable=False)

    op.create_table(
        "user_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_user_session_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_user_session"),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"])
    op.create_index("ix_user_session_expires_at", "user_session", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_user_session_expires_at", table_name="user_session")
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("session_stamp")
