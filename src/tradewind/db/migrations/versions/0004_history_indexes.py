"""Indexes that keep listings of a long history to a page: runs newest first and one DAG's
runs by id (``ix_dag_run_run_after_id``, ``ix_dag_run_dag_id_id``), and task instances in
their default order, of every DAG, of one and of one run (``ix_task_instance_map_index_id``,
``..._dag_id_map_index_id``, ``..._dag_id_run_id_map_index_id``). Without them each listing
sorted every run or task instance ever stored to return fifty (or walked every run's id);
without the last, SQLite reads one run's task instances through its DAG's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

INDEXES = (
    ("ix_dag_run_run_after_id", "dag_run", ["run_after", "id"]),
    ("ix_dag_run_dag_id_id", "dag_run", ["dag_id", "id"]),
    ("ix_task_instance_map_index_id", "task_instance", ["map_index", "id"]),
    ("ix_task_instance_dag_id_map_index_id", "task_instance", ["dag_id", "map_index", "id"]),
    (
        "ix_task_instance_dag_id_run_id_map_index_id",
        "task_instance",
        ["dag_id", "run_id", "map_index", "id"],
    ),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
