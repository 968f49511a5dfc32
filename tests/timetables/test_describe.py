from __future__ import annotations

from datetime import timedelta

import pytest

from tradewind.timetables import CronDataIntervalTimetable
from tradewind.timetables.describe import describe_cron, describe_timedelta


@pytest.mark.parametrize(
    ("expression", "description"),
    [
        ("@hourly", "Every hour"),
        ("@daily", "At 00:00, every day"),
        ("@weekly", "At 00:00, every Sunday"),
        ("@monthly", "At 00:00, on day 1 of every month"),
        ("@quarterly", "At 00:00, on day 1 of January, April, July and October"),
        ("@yearly", "At 00:00, on day 1 of January"),
        ("@annually", "At 00:00, on day 1 of January"),
        ("0 3 * * *", "At 03:00, every day"),
        ("30 14 * * *", "At 14:30, every day"),
        ("* * * * *", "Every minute"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("30 * * * *", "At minute 30 past every hour"),
        ("5,35 * * * *", "At minutes 5 and 35 past every hour"),
        ("0 */2 * * *", "Every 2 hours"),
        ("15 */6 * * *", "At minute 15, every 6 hours"),
        ("0 0,12 * * *", "At 00:00 and 12:00, every day"),
        ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("0 9 * * MON-FRI", "At 09:00, Monday through Friday"),
        ("30 8 * * 1,3,5", "At 08:30, every Monday, Wednesday and Friday"),
        ("0 0 * * 7", "At 00:00, every Sunday"),
        ("0 9-17 * * 1-5", "Every hour from 09:00 through 17:00, Monday through Friday"),
        ("*/15 9-17 * * *", "Every 15 minutes, between 09:00 and 17:59"),
        ("0 0 1,15 * *", "At 00:00, on days 1 and 15 of every month"),
        ("0 6 * 7 *", "At 06:00, every day in July"),
    ],
)
def test_common_crons_in_words(expression, description):
    assert describe_cron(expression) == description
    assert CronDataIntervalTimetable(expression, "UTC").description == description


@pytest.mark.parametrize("expression", ["0 0 L * *", "0 0 1 * 1", "0 1/2 * * *", "0 0 * * 5#2"])
def test_unusual_crons_fall_back_to_the_expression(expression):
    assert describe_cron(expression) == expression


@pytest.mark.parametrize(
    ("delta", "description"),
    [
        (timedelta(hours=2), "Every 2 hours"),
        (timedelta(hours=1), "Every hour"),
        (timedelta(minutes=30), "Every 30 minutes"),
        (timedelta(days=1), "Every day"),
        (timedelta(weeks=2), "Every 2 weeks"),
        (timedelta(days=1, hours=12), "Every 1 day and 12 hours"),
        (timedelta(seconds=90), "Every 1 minute and 30 seconds"),
        (timedelta(milliseconds=5), "Every 0:00:00.005000"),
    ],
)
def test_timedeltas_in_words(delta, description):
    assert describe_timedelta(delta) == description
