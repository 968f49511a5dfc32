"""DAG runs: ``DAGRunResponse`` and the bodies of trigger, patch, clear and batch listing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradewind.api.schemas.common import DagVersionResponse, IsoAwareDatetime, RequestBody
from tradewind.db.models import DagRun, DagVersion

#: ``triggered_by`` values the client knows; others are shown as null.
TRIGGERED_BY = frozenset(
    {"cli", "operator", "rest_api", "ui", "test", "timetable", "asset", "backfill"}
)


class DAGRunResponse(BaseModel):
    dag_run_id: str
    dag_id: str
    logical_date: datetime | None = None
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    duration: float | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_after: datetime
    last_scheduling_decision: datetime | None = None
    run_type: str
    state: str
    triggered_by: str | None = None
    triggering_user_name: str | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None
    dag_versions: list[DagVersionResponse]
    bundle_version: str | None = None
    dag_display_name: str
    partition_key: str | None = None
    partition_date: datetime | None = None

    @classmethod
    def of(
        cls, run: DagRun, *, dag_display_name: str, versions: Sequence[DagVersion]
    ) -> DAGRunResponse:
        duration = None
        if run.start_date is not None and run.end_date is not None:
            duration = max(0.0, (run.end_date - run.start_date).total_seconds())
        return cls(
            dag_run_id=run.run_id,
            dag_id=run.dag_id,
            logical_date=run.logical_date,
            queued_at=run.queued_at,
            start_date=run.start_date,
            end_date=run.end_date,
            duration=duration,
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            run_after=run.run_after,
            last_scheduling_decision=run.last_scheduling_decision,
            run_type=run.run_type,
            state=run.state,
            triggered_by=run.triggered_by if run.triggered_by in TRIGGERED_BY else None,
            conf=dict(run.conf or {}),
            note=run.note,
            dag_versions=[DagVersionResponse.of(v) for v in versions],
            dag_display_name=dag_display_name,
        )

    @classmethod
    def many(
        cls,
        runs: Sequence[DagRun],
        *,
        display_names: Mapping[str, str],
        version_ids: Mapping[tuple[str, str], Sequence[int]],
        versions: Mapping[int, DagVersion],
    ) -> list[DAGRunResponse]:
        return [
            cls.of(
                run,
                dag_display_name=display_names.get(run.dag_id, run.dag_id),
                versions=[
                    versions[vid]
                    for vid in version_ids.get((run.dag_id, run.run_id), [])
                    if vid in versions
                ],
            )
            for run in runs
        ]


class DAGRunCollectionResponse(BaseModel):
    dag_runs: list[DAGRunResponse]
    total_entries: int | None
    next_cursor: str | None = None
    previous_cursor: str | None = None


class TriggerDAGRunPostBody(BaseModel):
    """Airflow allows extra fields here; they are ignored."""

    model_config = ConfigDict(extra="ignore")

    dag_run_id: str | None = Field(None, max_length=250)
    logical_date: IsoAwareDatetime | None = None
    data_interval_start: IsoAwareDatetime | None = None
    data_interval_end: IsoAwareDatetime | None = None
    run_after: IsoAwareDatetime | None = None
    conf: dict[str, Any] | None = None
    note: str | None = Field(None, max_length=1000)
    partition_key: str | None = None

    @model_validator(mode="after")
    def _both_interval_ends(self) -> TriggerDAGRunPostBody:
        if (self.data_interval_start is None) != (self.data_interval_end is None):
            raise ValueError(
                "Either both data_interval_start and data_interval_end must be provided or both "
                "must be None"
            )
        return self


class DAGRunPatchBody(RequestBody):
    state: Literal["queued", "success", "failed"] | None = None
    note: str | None = Field(None, max_length=1000)


class DAGRunClearBody(RequestBody):
    dry_run: bool = True
    only_failed: bool = False
    only_new: bool = False
    run_on_latest_version: bool | None = None
    note: str | None = Field(None, max_length=1000)


class DAGRunsBatchBody(RequestBody):
    order_by: str | None = None
    page_offset: int = Field(0, ge=0)
    page_limit: int = Field(100, ge=0)
    dag_ids: list[str] | None = None
    states: list[Literal["queued", "running", "success", "failed"] | None] | None = None
    run_after_gte: IsoAwareDatetime | None = None
    run_after_gt: IsoAwareDatetime | None = None
    run_after_lte: IsoAwareDatetime | None = None
    run_after_lt: IsoAwareDatetime | None = None
    logical_date_gte: IsoAwareDatetime | None = None
    logical_date_gt: IsoAwareDatetime | None = None
    logical_date_lte: IsoAwareDatetime | None = None
    logical_date_lt: IsoAwareDatetime | None = None
    start_date_gte: IsoAwareDatetime | None = None
    start_date_gt: IsoAwareDatetime | None = None
    start_date_lte: IsoAwareDatetime | None = None
    start_date_lt: IsoAwareDatetime | None = None
    end_date_gte: IsoAwareDatetime | None = None
    end_date_gt: IsoAwareDatetime | None = None
    end_date_lte: IsoAwareDatetime | None = None
    end_date_lt: IsoAwareDatetime | None = None
    duration_gte: float | None = None
    duration_gt: float | None = None
    duration_lte: float | None = None
    duration_lt: float | None = None
    conf_contains: str | None = None
