"""Migrations: up, down, idempotence, status errors, and models == migrated schema."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

from tradewind.db import engine as db_engine
from tradewind.db import migrate as db_migrate
from tradewind.db import models
from tradewind.db.base import Base
from tradewind.exceptions import MetastoreError, MetastoreUnreachable, SchemaNotCurrent

TABLES = set(Base.metadata.tables)


@pytest.fixture
def empty_engine(db_url: str) -> Iterator[Engine]:
    engine = db_engine.create_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_up_down_up(empty_engine: Engine) -> None:
    assert db_migrate.status(empty_engine).is_empty

    status = db_migrate.migrate(empty_engine, default_pool_slots=7)
    assert status.is_current and status.current == db_migrate.head_revision()
    assert _tables(empty_engine) == TABLES | {"alembic_version"}
    with db_engine.session_scope(empty_engine) as session:
        assert (
            session.scalars(
                select(models.SlotPool.slots).where(models.SlotPool.pool == "default_pool")
            ).one()
            == 7
        )
        assert set(session.scalars(select(models.Role.name))) == set(models.BUILTIN_ROLES)

    status = db_migrate.downgrade(empty_engine, "base")
    assert status.is_empty
    assert _tables(empty_engine) <= {"alembic_version"}

    assert db_migrate.migrate(empty_engine).is_current
    assert _tables(empty_engine) == TABLES | {"alembic_version"}


def test_migrate_is_idempotent(engine: Engine) -> None:
    with db_engine.session_scope(engine) as session:
        session.add(models.Variable(key="kept", val="1"))
    assert db_migrate.migrate(engine).is_current
    with db_engine.session_scope(engine) as session:
        assert (
            session.scalars(select(models.Variable.val).where(models.Variable.key == "kept")).one()
            == "1"
        )
        assert session.scalars(select(models.SlotPool.pool)).all() == ["default_pool"]


def test_migrated_schema_matches_models(empty_engine: Engine) -> None:
    assert db_migrate.upgrade_through_migrations(empty_engine).is_current
    with empty_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def _schema(engine: Engine) -> dict[str, Any]:
    """Every table's columns, keys, indexes and constraints, and the rows the schema is
    seeded with: what tells two databases' schemas apart (column order aside)."""
    inspector = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        schema[table] = {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            },
            "pk": inspector.get_pk_constraint(table),
            "fks": sorted(map(repr, inspector.get_foreign_keys(table))),
            "indexes": sorted(map(repr, inspector.get_indexes(table))),
            "uniques": sorted(map(repr, inspector.get_unique_constraints(table))),
            "checks": sorted(map(repr, inspector.get_check_constraints(table))),
        }
    with engine.connect() as connection:
        for table in ("role", "slot_pool", "alembic_version"):
            rows = connection.execute(text(f"SELECT * FROM {table}")).mappings().all()
            schema[f"rows of {table}"] = sorted(repr(dict(row)) for row in rows)
    return schema


def test_a_new_database_gets_the_schema_every_migration_gives(empty_engine: Engine) -> None:
    """``migrate`` creates a new database from the models; running the migrations one by
    one must give the same tables, keys, indexes, constraints and seed rows."""
    assert db_migrate.migrate(empty_engine, default_pool_slots=7).is_current
    from_models = _schema(empty_engine)
    assert set(from_models) >= TABLES | {"alembic_version"}

    assert db_migrate.downgrade(empty_engine, "base").is_empty
    assert db_migrate.upgrade_through_migrations(empty_engine, default_pool_slots=7).is_current
    assert _schema(empty_engine) == from_models


def test_creating_from_models_leaves_a_migrated_database_alone(engine: Engine) -> None:
    """A second ``standalone`` that found the database empty before the first migrated it."""
    with db_engine.session_scope(engine) as session:
        session.add(models.Variable(key="kept", val="1"))
    assert db_migrate.create_from_models(engine) is False
    with db_engine.session_scope(engine) as session:
        assert session.scalars(select(models.Variable.key)).all() == ["kept"]
        assert session.scalars(select(models.SlotPool.pool)).all() == ["default_pool"]


def test_a_database_with_tables_but_no_revision_is_refused(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE variable (id INTEGER PRIMARY KEY)"))
    with pytest.raises(MetastoreError, match="creating the schema of .* failed"):
        db_migrate.migrate(empty_engine)
    assert _tables(empty_engine) == {"variable"}


def test_check_reports_each_problem(empty_engine: Engine) -> None:
    with pytest.raises(
        SchemaNotCurrent, match="has no Tradewind tables: run `tradewind db migrate`"
    ):
        db_migrate.check(empty_engine)
    db_migrate.migrate(empty_engine)
    assert db_migrate.check(empty_engine).is_current
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(
        SchemaNotCurrent, match="revision 9999, which this version of Tradewind does not know"
    ):
        db_migrate.check(empty_engine)
    with pytest.raises(SchemaNotCurrent, match="does not know"):
        db_migrate.migrate(empty_engine)


def test_unreachable_database() -> None:
    engine = db_engine.create_engine(
        "postgresql://nobody:secret@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    try:
        with pytest.raises(
            MetastoreUnreachable,
            match=r"cannot reach the database at .*nobody:\*\*\*@127.0.0.1:1/none",
        ):
            db_migrate.check(engine)
    finally:
        engine.dispose()


def test_reset_drops_data_and_stray_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    with db_engine.session_scope(engine) as session:
        dag = models.Dag(dag_id="d")
        session.add(dag)
        session.flush()
        version = models.DagVersion(
            dag_id="d", version_number=1, serialized_dag="{}", content_hash="h"
        )
        session.add(version)
        session.flush()
        dag.latest_version_id = version.id  # the dag <-> dag_version cycle must not stop the drop
        session.add(models.Variable(key="gone", val="x"))
    status = db_migrate.reset(engine)
    assert status.is_current
    assert _tables(engine) == TABLES | {"alembic_version"}
    with db_engine.session_scope(engine) as session:
        assert session.scalars(select(models.Variable)).all() == []
        assert session.scalars(select(models.Dag)).all() == []


def test_unknown_target_revision_is_a_clear_error(engine: Engine) -> None:
    with pytest.raises(MetastoreError, match="cannot downgrade to 'nope'"):
        db_migrate.downgrade(engine, "nope")


def test_migration_files_ship_with_the_package() -> None:
    """The wheel must contain env.py, the template and every version (package-data globs)."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["tradewind"]
    package_root = Path(db_migrate.__file__).parents[1]
    needed = [
        p
        for p in db_migrate.SCRIPT_LOCATION.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert {p.name for p in needed} >= {"env.py", "script.py.mako", "0001_initial.py"}
    for path in needed:
        relative = path.relative_to(package_root).as_posix()
        # .py files of a folder with __init__.py ship as part of that package.
        is_package_module = path.suffix == ".py" and (path.parent / "__init__.py").exists()
        assert is_package_module or any(fnmatch.fnmatch(relative, g) for g in globs), relative


def test_upgrading_from_0001_keeps_runs_and_owes_no_callbacks(empty_engine: Engine) -> None:
    db_migrate.migrate(empty_engine)
    assert db_migrate.downgrade(empty_engine, "0001").current == "0001"
    assert "callback_reason" not in {
        c["name"] for c in inspect(empty_engine).get_columns("dag_run")
    }
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dag (dag_id, is_paused, is_active, fileloc, has_import_errors) "
                "VALUES ('d', false, true, '/d.py', false)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO dag_run (dag_id, run_id, run_type, state, run_after, clear_number, "
                "created_at, updated_at) VALUES ('d', 'r1', 'manual', 'success', :at, 0, :at, :at)"
            ),
            {"at": "2026-01-01 00:00:00+00:00"},
        )
    status = db_migrate.migrate(empty_engine)
    assert status.is_current and status.current == db_migrate.head_revision()
    with empty_engine.connect() as connection:
        rows = connection.execute(
            text("SELECT run_id, state, callback_reason, callback_job_id FROM dag_run")
        ).all()
    assert [tuple(row) for row in rows] == [("r1", "success", None, None)]


def test_upgrading_from_0002_gives_each_user_its_own_session_stamp(empty_engine: Engine) -> None:
    db_migrate.migrate(empty_engine)
    assert db_migrate.downgrade(empty_engine, "0002").current == "0002"
    assert "user_session" not in _tables(empty_engine)
    with empty_engine.begin() as connection:
        for name in ("ada", "bob"):
            connection.execute(
                text(
                    'INSERT INTO "user" (username, active, role, created_at, failed_login_count) '
                    "VALUES (:name, true, 'Admin', :at, 0)"
                ),
                {"name": name, "at": "2026-01-01 00:00:00+00:00"},
            )
    assert db_migrate.migrate(empty_engine).is_current
    with empty_engine.connect() as connection:
        stamps = connection.execute(text('SELECT session_stamp FROM "user"')).scalars().all()
    assert len(stamps) == 2 and len(set(stamps)) == 2 and all(len(stamp) == 32 for stamp in stamps)
    assert "user_session" in _tables(empty_engine)
