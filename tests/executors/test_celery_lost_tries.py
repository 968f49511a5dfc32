"""Which remote tries the celery executor gives up on (``celery_events.lost_tries``): a pure
decision over the rows of its tries, tested with plain tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewind.executors.celery_events import TryRowState, lost_tries

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TIMEOUT = 30.0


def _row(state: str | None, try_number: int = 2, beat_ago: float | None = 1.0) -> TryRowState:
    beat = None if beat_ago is None else NOW - timedelta(seconds=beat_ago)
    return TryRowState(state, try_number, beat)


@pytest.mark.parametrize(
    ("row", "lost_because"),
    [
        (_row("queued", beat_ago=None), None),  # waits in the broker
        (_row("queued", beat_ago=3600), None),  # a heartbeat of an earlier try
        (_row("running"), None),
        (_row("running", beat_ago=TIMEOUT - 1), None),
        (_row("running", beat_ago=TIMEOUT + 1), "no heartbeat for 30 s"),
        (_row("failed"), "changed from outside (now failed at try 2)"),
        (_row("success"), "changed from outside (now success at try 2)"),
        (_row(None, try_number=2), "changed from outside (now no state at try 2)"),
        (_row("running", try_number=3), "changed from outside (now running at try 3)"),
        (None, "its task instance was deleted"),
    ],
)
def test_a_try_is_lost_when_no_worker_will_report_its_end(
    row: TryRowState | None, lost_because: str | None
) -> None:
    rows = {} if row is None else {7: row}
    lost = lost_tries({7: 2}, rows, NOW, TIMEOUT)
    if lost_because is None:
        assert lost == []
    else:
        (died,) = lost
        assert died.ti_id == 7 and lost_because in died.reason
