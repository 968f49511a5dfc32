"""Deserialized DAG versions are shared by the services: one deserialization per version and
process, whatever metastore the version comes from."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tradewind import serialization
from tradewind.dag_processing.manager import DagProcessor
from tradewind.sdk import timezone
from tradewind.services import dag_runs, dag_versions
from tradewind.services import dags as dag_service


@pytest.fixture
def parsed(settings, engine, tmp_path: Path):
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "versioned.py").write_text(
        textwrap.dedent("""
        from tradewind import DAG, PythonOperator
        with DAG("versioned", schedule=None) as dag:
            PythonOperator(task_id="only", python_callable=lambda: 1)
    """)
    )
    settings = settings.with_values(
        core__dags_folder=str(folder), core__dags_are_paused_at_creation=False
    )
    DagProcessor(settings, engine).run_once(force=True)
    dag_versions.clear()
    return folder


def test_latest_dag_deserializes_a_version_once(parsed, engine, monkeypatch) -> None:
    calls = []
    real = serialization.deserialize_dag
    monkeypatch.setattr(
        serialization, "deserialize_dag", lambda data: calls.append(1) or real(data)
    )
    with Session(engine) as session:
        _, version, first = dag_service.latest_dag(session, "versioned")
        _, _, second = dag_service.latest_dag(session, "versioned")
        for n in range(3):
            dag_runs.trigger(session, "versioned", run_id=f"r{n}", now=timezone.utcnow())
        assert version.content_hash and version.dag_id == "versioned"
        session.commit()
    assert first is second and first.task_ids == ["only"]
    assert len(calls) == 1


def test_a_changed_file_is_a_new_version_and_a_new_dag(parsed, settings, engine) -> None:
    with Session(engine) as session:
        _, old_version, old = dag_service.latest_dag(session, "versioned")
    (parsed / "versioned.py").write_text(
        textwrap.dedent("""
        from tradewind import DAG, PythonOperator
        with DAG("versioned", schedule=None) as dag:
            PythonOperator(task_id="first", python_callable=lambda: 1) >> PythonOperator(
                task_id="second", python_callable=lambda: 2)
    """)
    )
    settings = settings.with_values(core__dags_folder=str(parsed))
    DagProcessor(settings, engine).run_once(force=True)
    with Session(engine) as session:
        _, new_version, new = dag_service.latest_dag(session, "versioned")
    assert new_version.id != old_version.id
    assert sorted(new.task_ids) == ["first", "second"] and old.task_ids == ["only"]


def test_the_cache_keeps_the_most_recently_used_versions(
    parsed, settings, engine, monkeypatch
) -> None:
    monkeypatch.setattr(dag_versions, "MAX_SIZE", 1)
    with Session(engine) as session:
        _, first_version, first = dag_service.latest_dag(session, "versioned")
    (parsed / "versioned.py").write_text((parsed / "versioned.py").read_text() + "\n# changed\n")
    DagProcessor(settings.with_values(core__dags_folder=str(parsed)), engine).run_once(force=True)
    with Session(engine) as session:
        _, second_version, second = dag_service.latest_dag(session, "versioned")
        assert dag_versions.dag_of(second_version) is second
        assert dag_versions.dag_of(first_version) is not first  # pushed out, deserialized again
