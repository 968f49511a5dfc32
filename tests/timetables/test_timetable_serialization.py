from __future__ import annotations

import json
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tradewind.exceptions import DagDefinitionError
from tradewind.timetables import (
    ContinuousTimetable,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    DeltaDataIntervalTimetable,
    NullTimetable,
    OnceTimetable,
    deserialize,
)

TIMETABLES = [
    NullTimetable(),
    OnceTimetable(),
    ContinuousTimetable(),
    CronDataIntervalTimetable("@daily", "UTC"),
    CronDataIntervalTimetable("0 2 * * *", ZoneInfo("Europe/Berlin")),
    CronDataIntervalTimetable("*/15 9-17 * * MON-FRI", "America/New_York"),
    CronDataIntervalTimetable("0 3 * * *", timezone(timedelta(hours=-3, minutes=-30))),
    CronTriggerTimetable("@hourly", "Asia/Seoul"),
    CronTriggerTimetable("0 3 * * *", "UTC", interval=timedelta(hours=1, microseconds=5)),
    DeltaDataIntervalTimetable(timedelta(hours=2)),
    DeltaDataIntervalTimetable(timedelta(days=3, seconds=7, microseconds=123)),
]


@pytest.mark.parametrize("timetable", TIMETABLES, ids=repr)
def test_round_trip_through_json(timetable):
    data = json.loads(json.dumps(timetable.serialize()))
    restored = deserialize(data)
    assert restored == timetable
    assert type(restored) is type(timetable)
    assert restored.summary == timetable.summary
    assert restored.description == timetable.description


def test_cron_serialization_names_the_timezone():
    data = CronDataIntervalTimetable("0 2 * * *", ZoneInfo("Europe/Berlin")).serialize()
    assert data == {
        "type": "CronDataIntervalTimetable",
        "expression": "0 2 * * *",
        "timezone": "Europe/Berlin",
    }
    assert CronDataIntervalTimetable("@daily", "UTC").serialize()["timezone"] == "UTC"
    offset = CronDataIntervalTimetable("@daily", timezone(timedelta(hours=-3, minutes=-30)))
    assert offset.serialize()["timezone"] == "-03:30"


def test_delta_serialization():
    assert DeltaDataIntervalTimetable(timedelta(hours=2)).serialize() == {
        "type": "DeltaDataIntervalTimetable",
        "delta": 7200.0,
    }


@pytest.mark.parametrize(
    "data",
    [
        {"type": "NoSuchTimetable"},
        {},
        {"type": "CronDataIntervalTimetable"},
        {"type": "CronDataIntervalTimetable", "expression": "0 25 * * *", "timezone": "UTC"},
        {"type": "DeltaDataIntervalTimetable", "delta": "soon"},
    ],
)
def test_bad_data_fails_with_dag_definition_error(data):
    with pytest.raises(DagDefinitionError):
        deserialize(data)
