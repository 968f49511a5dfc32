"""UtcDateTime and JSON columns behave the same on both backends."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from tradewind.db import models
from tradewind.db.types import NaiveDatetimeError

SEOUL = dt.timezone(dt.timedelta(hours=9))


def test_aware_datetime_round_trips_as_utc(session: Session) -> None:
    local = dt.datetime(2024, 3, 10, 9, 30, 15, 123456, tzinfo=SEOUL)
    job = models.Job(
        job_type=models.JobType.SCHEDULER.value, start_date=local, latest_heartbeat=local
    )
    session.add(job)
    session.commit()
    session.expunge_all()

    loaded = session.get(models.Job, job.id)
    assert loaded is not None
    assert loaded.start_date == local
    assert loaded.start_date.tzinfo == dt.UTC
    assert loaded.start_date.hour == 0 and loaded.start_date.microsecond == 123456


def test_stored_value_is_utc(session: Session) -> None:
    local = dt.datetime(2024, 1, 1, 9, 0, tzinfo=SEOUL)
    session.add(models.Job(job_type="worker", start_date=local, latest_heartbeat=local))
    session.commit()
    raw = session.execute(text("SELECT start_date FROM job")).scalar_one()
    if session.get_bind().dialect.name == "sqlite":
        assert str(raw).startswith("2024-01-01 00:00:00")
    else:
        assert raw == local and raw.utcoffset() is not None


def test_naive_datetime_is_refused(session: Session) -> None:
    naive = dt.datetime(2024, 1, 1, 12, 0)
    session.add(models.Job(job_type="worker", start_date=naive, latest_heartbeat=naive))
    with pytest.raises(
        StatementError, match="naive datetime 2024-01-01T12:00:00 cannot be stored"
    ) as info:
        session.flush()
    assert isinstance(info.value.orig, NaiveDatetimeError)


def test_comparison_in_sql_uses_utc(session: Session) -> None:
    early = dt.datetime(2024, 1, 1, 8, 0, tzinfo=SEOUL)  # 23:00 UTC the day before
    late = dt.datetime(2024, 1, 1, 1, 0, tzinfo=dt.UTC)
    for when in (early, late):
        session.add(models.Job(job_type="worker", start_date=when, latest_heartbeat=when))
    session.commit()
    cutoff = dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
    found = session.scalars(
        select(models.Job.start_date).where(models.Job.start_date > cutoff)
    ).all()
    assert found == [late]


def test_json_column_round_trip_and_null(session: Session) -> None:
    session.add(models.Log(event="a", extra={"n": 1, "items": ["x", None], "nested": {"ok": True}}))
    session.add(models.Log(event="b", extra=None))
    session.commit()
    rows = {
        event: extra for event, extra in session.execute(select(models.Log.event, models.Log.extra))
    }
    assert rows == {"a": {"n": 1, "items": ["x", None], "nested": {"ok": True}}, "b": None}
    assert session.execute(text("SELECT COUNT(*) FROM log WHERE extra IS NULL")).scalar_one() == 1
