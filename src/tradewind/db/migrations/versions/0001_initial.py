"""Initial schema: DAGs and versions, runs, task instances, XCom, variables, connections,
pools, import errors, jobs, users and roles, audit log, backfills.

Seeds the built-in roles and ``default_pool``.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from tradewind.db.types import UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of what the models use: a migration must not change when models do.
ID_LEN = 250
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
ROLES = ("Admin", "Op", "User", "Viewer")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


def _id(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(ID_LEN), nullable=nullable)


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=f"pk_{table}")


def _task_instance_columns() -> list[sa.Column]:
    """Columns shared by task_instance and task_instance_history."""
    return [
        _id("dag_id"),
        _id("run_id"),
        _id("task_id"),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("priority_weight", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(256), nullable=False),
        sa.Column("operator", sa.String(1000), nullable=True),
        sa.Column("hostname", sa.String(1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        _ts("last_heartbeat_at"),
        _ts("scheduled_dttm"),
        _ts("queued_dttm"),
        _ts("start_date"),
        _ts("end_date"),
        sa.Column("duration", sa.Float(), nullable=True),
        _ts("next_retry_at"),
        _ts("reschedule_date"),
        sa.Column("executor_config", JSON, nullable=True),
        _id("external_executor_id", nullable=True),
        sa.Column("queued_by_job_id", sa.Integer(), nullable=True),
        sa.Column("dag_version_id", sa.Integer(), nullable=True),
        sa.Column("rendered_fields", JSON, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        _ts("updated_at", nullable=False),
    ]


def upgrade() -> None:
    _create_dag_tables()
    _create_run_tables()
    _create_task_tables()
    _create_resource_tables()
    _create_auth_and_audit_tables()
    _seed()


def _create_dag_tables() -> None:
    op.create_table(
        "dag",
        _id("dag_id"),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("fileloc", sa.String(2000), nullable=True),
        sa.Column("owners", sa.String(2000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("timetable_summary", sa.String(1000), nullable=True),
        sa.Column("max_active_runs", sa.Integer(), nullable=True),
        sa.Column("max_active_tasks", sa.Integer(), nullable=True),
        sa.Column("has_import_errors", sa.Boolean(), nullable=False),
        _ts("last_parsed_time"),
        _ts("next_dagrun"),
        _ts("next_dagrun_data_interval_start"),
        _ts("next_dagrun_data_interval_end"),
        _ts("next_dagrun_create_after"),
        sa.Column("latest_version_id", sa.Integer(), nullable=True),
        _pk("dag", "dag_id"),
    )
    op.create_index(
        "ix_dag_next_dagrun_create_after",
        "dag",
        ["is_paused", "is_active", "next_dagrun_create_after"],
    )
    op.create_table(
        "dag_tag",
        _id("dag_id"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name="fk_dag_tag_dag_id_dag", ondelete="CASCADE"
        ),
        _pk("dag_tag", "dag_id", "name"),
    )
    op.create_index("ix_dag_tag_name", "dag_tag", ["name"])
    op.create_table(
        "dag_version",
        sa.Column("id", sa.Integer(), nullable=False),
        _id("dag_id"),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("serialized_dag", sa.Text(), nullable=False),
        sa.Column("source_code", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("fileloc", sa.String(2000), nullable=True),
        _ts("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name="fk_dag_version_dag_id_dag", ondelete="CASCADE"
        ),
        _pk("dag_version", "id"),
        sa.UniqueConstraint("dag_id", "content_hash", name="uq_dag_version_dag_id_content_hash"),
        sa.UniqueConstraint(
            "dag_id", "version_number", name="uq_dag_version_dag_id_version_number"
        ),
    )
    # dag and dag_version refer to each other, so this key is added once both exist.
    with op.batch_alter_table("dag") as batch:
        batch.create_foreign_key(
            "fk_dag_latest_version_id_dag_version",
            "dag_version",
            ["latest_version_id"],
            ["id"],
            ondelete="SET NULL",
        )


def _create_run_tables() -> None:
    op.create_table(
        "backfill",
        sa.Column("id", sa.Integer(), nullable=False),
        _id("dag_id"),
        _ts("from_date", nullable=False),
        _ts("to_date", nullable=False),
        sa.Column("reprocess_behavior", sa.String(20), nullable=False),
        sa.Column("max_active_runs", sa.Integer(), nullable=False),
        sa.Column("run_backwards", sa.Boolean(), nullable=False),
        sa.Column("dag_run_conf", JSON, nullable=True),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(512), nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("completed_at"),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name="fk_backfill_dag_id_dag", ondelete="CASCADE"
        ),
        _pk("backfill", "id"),
    )
    op.create_table(
        "dag_run",
        sa.Column("id", sa.Integer(), nullable=False),
        _id("dag_id"),
        _id("run_id"),
        _ts("logical_date"),
        _ts("data_interval_start"),
        _ts("data_interval_end"),
        _ts("run_after", nullable=False),
        sa.Column("run_type", sa.String(50), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("conf", JSON, nullable=True),
        sa.Column("dag_version_id", sa.Integer(), nullable=True),
        _ts("queued_at"),
        _ts("start_date"),
        _ts("end_date"),
        _ts("last_scheduling_decision"),
        sa.Column("backfill_id", sa.Integer(), nullable=True),
        sa.Column("triggered_by", sa.String(50), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("clear_number", sa.Integer(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["backfill.id"],
            name="fk_dag_run_backfill_id_backfill",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dag_id"], ["dag.dag_id"], name="fk_dag_run_dag_id_dag", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["dag_version_id"], ["dag_version.id"], name="fk_dag_run_dag_version_id_dag_version"
        ),
        _pk("dag_run", "id"),
        sa.UniqueConstraint("dag_id", "logical_date", name="uq_dag_run_dag_id_logical_date"),
        sa.UniqueConstraint("dag_id", "run_id", name="uq_dag_run_dag_id_run_id"),
    )
    op.create_index("ix_dag_run_dag_id_run_after", "dag_run", ["dag_id", "run_after"])
    op.create_index("ix_dag_run_state_dag_id", "dag_run", ["state", "dag_id"])
    op.create_table(
        "backfill_dag_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backfill_id", sa.Integer(), nullable=False),
        sa.Column("dag_run_id", sa.Integer(), nullable=True),
        _ts("logical_date", nullable=False),
        sa.Column("exception_reason", sa.String(250), nullable=True),
        sa.Column("sort_ordinal", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["backfill_id"],
            ["backfill.id"],
            name="fk_backfill_dag_run_backfill_id_backfill",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dag_run_id"],
            ["dag_run.id"],
            name="fk_backfill_dag_run_dag_run_id_dag_run",
            ondelete="SET NULL",
        ),
        _pk("backfill_dag_run", "id"),
        sa.UniqueConstraint(
            "backfill_id", "dag_run_id", name="uq_backfill_dag_run_backfill_id_dag_run_id"
        ),
        sa.UniqueConstraint(
            "backfill_id", "logical_date", name="uq_backfill_dag_run_backfill_id_logical_date"
        ),
    )


def _create_task_tables() -> None:
    op.create_table(
        "task_instance",
        sa.Column("id", sa.Integer(), nullable=False),
        *_task_instance_columns(),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            name="fk_task_instance_dag_id_run_id_dag_run",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dag_version_id"],
            ["dag_version.id"],
            name="fk_task_instance_dag_version_id_dag_version",
        ),
        _pk("task_instance", "id"),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            name="uq_task_instance_dag_id_run_id_task_id_map_index",
        ),
    )
    op.create_index(
        "ix_task_instance_dag_id_run_id_state", "task_instance", ["dag_id", "run_id", "state"]
    )
    op.create_index("ix_task_instance_state", "task_instance", ["state"])
    op.create_index("ix_task_instance_state_pool", "task_instance", ["state", "pool"])
    op.create_table(
        "task_instance_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_instance_id", sa.Integer(), nullable=True),
        *_task_instance_columns(),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"],
            ["dag_run.dag_id", "dag_run.run_id"],
            name="fk_task_instance_history_dag_id_run_id_dag_run",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dag_version_id"],
            ["dag_version.id"],
            name="fk_task_instance_history_dag_version_id_dag_version",
        ),
        sa.ForeignKeyConstraint(
            ["task_instance_id"],
            ["task_instance.id"],
            name="fk_task_instance_history_task_instance_id_task_instance",
            ondelete="CASCADE",
        ),
        _pk("task_instance_history", "id"),
        sa.UniqueConstraint(
            "dag_id",
            "run_id",
            "task_id",
            "map_index",
            "try_number",
            name="uq_task_instance_history_try",
        ),
    )
    op.create_table(
        "xcom",
        _id("dag_id"),
        _id("run_id"),
        _id("task_id"),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        _ts("timestamp", nullable=False),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id", "task_id", "map_index"],
            [
                "task_instance.dag_id",
                "task_instance.run_id",
                "task_instance.task_id",
                "task_instance.map_index",
            ],
            name="fk_xcom_dag_id_run_id_task_id_map_index_task_instance",
            ondelete="CASCADE",
        ),
        _pk("xcom", "dag_id", "run_id", "task_id", "map_index", "key"),
    )


def _create_resource_tables() -> None:
    op.create_table(
        "variable",
        sa.Column("id", sa.Integer(), nullable=False),
        _id("key"),
        sa.Column("val", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), nullable=False),
        _pk("variable", "id"),
        sa.UniqueConstraint("key", name="uq_variable_key"),
    )
    op.create_table(
        "connection",
        sa.Column("id", sa.Integer(), nullable=False),
        _id("conn_id"),
        sa.Column("conn_type", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(500), nullable=True),
        sa.Column("schema", sa.String(500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), nullable=False),
        sa.Column("is_extra_encrypted", sa.Boolean(), nullable=False),
        _pk("connection", "id"),
        sa.UniqueConstraint("conn_id", name="uq_connection_conn_id"),
    )
    op.create_table(
        "slot_pool",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("include_deferred", sa.Boolean(), nullable=False),
        _pk("slot_pool", "id"),
        sa.UniqueConstraint("pool", name="uq_slot_pool_pool"),
    )
    op.create_table(
        "import_error",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(1024), nullable=False),
        sa.Column("stacktrace", sa.Text(), nullable=True),
        _ts("timestamp", nullable=False),
        _pk("import_error", "id"),
        sa.UniqueConstraint("filename", name="uq_import_error_filename"),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_type", sa.String(30), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("hostname", sa.String(500), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        _ts("start_date", nullable=False),
        _ts("end_date"),
        _ts("latest_heartbeat", nullable=False),
        _pk("job", "id"),
    )
    op.create_index(
        "ix_job_job_type_state_latest_heartbeat", "job", ["job_type", "state", "latest_heartbeat"]
    )


def _create_auth_and_audit_tables() -> None:
    op.create_table(
        "role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        _pk("role", "id"),
        sa.UniqueConstraint("name", name="uq_role_name"),
    )
    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("first_name", sa.String(256), nullable=True),
        sa.Column("last_name", sa.String(256), nullable=True),
        sa.Column("password_hash", sa.String(256), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        _ts("created_at", nullable=False),
        _ts("last_login"),
        sa.Column("failed_login_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["role"], ["role.name"], name="fk_user_role_role", onupdate="CASCADE"
        ),
        _pk("user", "id"),
        sa.UniqueConstraint("username", name="uq_user_username"),
    )
    op.create_table(
        "log",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("dttm", nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        _id("dag_id", nullable=True),
        _id("task_id", nullable=True),
        _id("run_id", nullable=True),
        sa.Column("map_index", sa.Integer(), nullable=True),
        sa.Column("try_number", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(500), nullable=True),
        sa.Column("extra", JSON, nullable=True),
        _pk("log", "id"),
    )
    op.create_index("ix_log_dag_id_dttm", "log", ["dag_id", "dttm"])
    op.create_index("ix_log_dttm", "log", ["dttm"])
    op.create_index("ix_log_event_dttm", "log", ["event", "dttm"])


def _seed() -> None:
    role = sa.table("role", sa.column("name", sa.String))
    op.bulk_insert(role, [{"name": name} for name in ROLES])
    # migrate(default_pool_slots=...) passes [core] default_pool_slots through the config.
    slots = int(context.config.attributes.get("default_pool_slots", 128))
    pool = sa.table(
        "slot_pool",
        sa.column("pool", sa.String),
        sa.column("slots", sa.Integer),
        sa.column("description", sa.Text),
        sa.column("include_deferred", sa.Boolean),
    )
    op.bulk_insert(
        pool,
        [
            {
                "pool": "default_pool",
                "slots": slots,
                "description": "Default pool",
                "include_deferred": False,
            }
        ],
    )


def downgrade() -> None:
    for table in (
        "log",
        "user",
        "role",
        "job",
        "import_error",
        "slot_pool",
        "connection",
        "variable",
        "xcom",
        "task_instance_history",
        "task_instance",
        "backfill_dag_run",
        "dag_run",
        "backfill",
    ):
        op.drop_table(table)
    with op.batch_alter_table("dag") as batch:
        batch.drop_constraint("fk_dag_latest_version_id_dag_version", type_="foreignkey")
    for table in ("dag_version", "dag_tag", "dag"):
        op.drop_table(table)
