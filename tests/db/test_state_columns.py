"""State columns store the enum's string values, read back members, and refuse unknown states."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.types import StrEnumType, UnknownStateError
from tradewind.sdk.states import DagRunState, TaskInstanceState

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _job(state: object = models.JobState.RUNNING) -> models.Job:
    return models.Job(job_type="worker", state=state, latest_heartbeat=NOW)


@pytest.mark.parametrize("written", [models.JobState.FAILED, "failed"])
def test_a_member_or_its_value_is_stored_as_the_plain_string(
    session: Session, written: object
) -> None:
    session.add(_job(written))
    session.commit()
    session.expunge_all()
    assert session.execute(text("SELECT state FROM job")).scalar_one() == "failed"
    loaded = session.scalars(select(models.Job)).one()
    assert loaded.state is models.JobState.FAILED
    assert json.dumps({"state": loaded.state}) == '{"state": "failed"}'


def test_an_unknown_state_is_refused_on_insert(session: Session) -> None:
    session.add(_job("sucess"))
    with pytest.raises(StatementError, match="'sucess' is not a JobState") as info:
        session.flush()
    assert isinstance(info.value.orig, UnknownStateError)
    assert "expected one of running, success, failed, restarting" in str(info.value.orig)


def test_an_unknown_state_is_refused_in_a_bulk_update(session: Session) -> None:
    session.add(_job())
    session.commit()
    with pytest.raises(StatementError, match="'done' is not a JobState"):
        session.execute(update(models.Job).values(state="done"))
    session.rollback()
    assert session.execute(text("SELECT state FROM job")).scalar_one() == "running"


def test_filters_take_members_or_strings_and_unknown_ones_find_nothing(session: Session) -> None:
    session.add_all([_job(), _job(models.JobState.SUCCESS)])
    session.commit()
    count = select(models.Job.id).where
    assert len(session.scalars(count(models.Job.state == models.JobState.SUCCESS)).all()) == 1
    assert len(session.scalars(count(models.Job.state.in_(["success", "running"]))).all()) == 2
    assert session.scalars(count(models.Job.state == "no-such-state")).all() == []


def test_a_value_written_behind_its_back_reads_as_the_plain_string(session: Session) -> None:
    session.add(_job())
    session.commit()
    session.execute(text("UPDATE job SET state = 'zombie'"))
    session.commit()
    session.expunge_all()
    assert session.scalars(select(models.Job.state)).one() == "zombie"


@pytest.mark.parametrize(
    ("column", "states"),
    [
        (models.TaskInstance.state, TaskInstanceState),
        (models.TaskInstanceHistory.state, TaskInstanceState),
        (models.DagRun.state, DagRunState),
        (models.Job.state, models.JobState),
        (models.Backfill.state, models.BackfillState),
    ],
)
def test_every_state_column_is_typed_by_its_enum(column: object, states: type) -> None:
    column_type = column.property.columns[0].type  # type: ignore[attr-defined]
    assert isinstance(column_type, StrEnumType)
    assert column_type.states is states
    assert column_type.length == 20  # the migrated column's length: no migration needed
