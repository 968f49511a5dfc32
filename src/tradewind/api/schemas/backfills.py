"""Backfills: Airflow 3's ``BackfillResponse``, ``BackfillPostBody`` and the dry-run answer.

Tradewind adds fields the client ignores: the backfill's ``state``, ``run_backwards``, who
created it and the progress of its runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tradewind.api.schemas.common import IsoDatetime, RequestBody
from tradewind.services import backfill

ReprocessBehaviorValue = Literal["none", "failed", "completed"]


class BackfillProgress(BaseModel):
    """Runs of the backfill: ``total``, finished (``done`` = ``succeeded`` + ``failed``),
    ``running`` (queued or running)."""

    total: int
    done: int
    succeeded: int
    failed: int
    running: int


class BackfillResponse(BaseModel):
    id: int = Field(ge=0)
    dag_id: str
    dag_display_name: str
    from_date: datetime
    to_date: datetime
    dag_run_conf: dict[str, Any] | None = None
    is_paused: bool
    reprocess_behavior: ReprocessBehaviorValue
    max_active_runs: int
    created_at: datetime
    completed_at: datetime | None = None
    updated_at: datetime
    run_backwards: bool
    state: str
    triggering_user_name: str | None = None
    progress: BackfillProgress

    @classmethod
    def of(cls, info: backfill.BackfillInfo) -> BackfillResponse:
        return cls(
            id=info.id,
            dag_id=info.dag_id,
            dag_display_name=info.dag_display_name or info.dag_id,
            from_date=info.from_date,
            to_date=info.to_date,
            dag_run_conf=info.dag_run_conf,
            is_paused=info.is_paused,
            reprocess_behavior=info.reprocess_behavior,  # type: ignore[arg-type]  # one of the Literal's values
            max_active_runs=info.max_active_runs,
            created_at=info.created_at,
            completed_at=info.completed_at,
            updated_at=info.updated_at or info.created_at,
            run_backwards=info.run_backwards,
            state=info.state,
            triggering_user_name=info.created_by,
            progress=BackfillProgress(
                total=info.total,
                done=info.done,
                succeeded=info.succeeded,
                failed=info.failed,
                running=info.running,
            ),
        )


class BackfillCollectionResponse(BaseModel):
    backfills: list[BackfillResponse]
    total_entries: int


class BackfillPostBody(RequestBody):
    """What to backfill. Without ``max_active_runs`` the DAG's own limit applies (the official
    client always sends one: 10 unless told otherwise, as in Airflow)."""

    dag_id: str
    from_date: IsoDatetime
    to_date: IsoDatetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] = Field(default_factory=dict)
    reprocess_behavior: ReprocessBehaviorValue = "none"
    max_active_runs: int | None = None
    #: Accepted for the client's sake: new runs always use the DAG's latest version; runs
    #: re-run keep the version they ran with.
    run_on_latest_version: bool | None = None


class DryRunBackfillResponse(BaseModel):
    """A logical date the backfill would run (``action``: ``create`` a run or ``rerun`` one)."""

    logical_date: datetime | None = None
    partition_key: str | None = None
    partition_date: datetime | None = None
    action: str

    @classmethod
    def of(cls, item: backfill.PlannedRun) -> DryRunBackfillResponse:
        return cls(logical_date=item.logical_date, action=item.action)


class DryRunBackfillCollectionResponse(BaseModel):
    backfills: list[DryRunBackfillResponse]
    total_entries: int
