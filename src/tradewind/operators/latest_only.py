"""``LatestOnlyOperator``: let downstream tasks run only in the latest scheduled run.

A run is the latest while no later scheduled run is due yet: now lies after the end of its
data interval and no later than when the next run of the schedule becomes due. Older runs (a
catchup or a backfill of past intervals) skip the tasks directly downstream, and trigger
rules carry the skip further. A run triggered by hand always proceeds, as in Airflow.
"""

from __future__ import annotations

from typing import Any

from tradewind.operators.branch import skip_all_downstream
from tradewind.sdk import timezone
from tradewind.sdk.baseoperator import BaseOperator
from tradewind.sdk.context import Context
from tradewind.sdk.states import DagRunType
from tradewind.timetables.base import DataInterval, TimeRestriction


class LatestOnlyOperator(BaseOperator):
    """Skips the tasks directly downstream unless this run is the latest scheduled one."""

    ui_color = "#e9ffdb"

    def execute(self, context: Context) -> Any:
        run = context["dag_run"]
        if run.run_type == DagRunType.MANUAL.value:
            self.log.info("A run triggered by hand: downstream tasks proceed")
            return None
        if self._is_latest(context):
            self.log.info("The latest run: downstream tasks proceed")
            return None
        skipped = skip_all_downstream(self, context, recursive=False)
        self.log.info("Not the latest run: skipping %s", skipped)
        return None

    def _is_latest(self, context: Context) -> bool:
        run, dag = context["dag_run"], context["dag"]
        start, end = run.data_interval_start, run.data_interval_end
        if start is None or end is None or dag is None:
            return True  # no interval to compare: nothing says a later run exists
        following = dag.timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(start, end),
            restriction=TimeRestriction(earliest=None, latest=dag.end_date, catchup=True),
        )
        if following is None:
            return True  # the schedule has no run after this one
        now = timezone.utcnow()
        return end < now <= following.run_after
