"""``/api/v2/monitor/health`` and ``/api/v2/version``: open without login, like Airflow's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request

from tradewind import __version__
from tradewind.api import deps
from tradewind.db import engine as db_engine
from tradewind.db.models import JobType
from tradewind.sdk import timezone
from tradewind.services import scheduler_health

router = APIRouter(
    prefix="/api/v2", tags=["Monitor"], generate_unique_id_function=deps.operation_id
)


@router.get("/monitor/health")
def get_health(request: Request) -> dict[str, Any]:
    """Metastore reachable; scheduler and DAG processor healthy when their heartbeat is recent
    (status null: no such process has run)."""
    body: dict[str, Any] = {"metadatabase": {"status": "healthy"}}
    settings = request.app.state.settings
    scheduler_beat: datetime | None = None
    processor_beat: datetime | None = None
    executor: str | None = None
    try:
        with db_engine.session_scope(request.app.state.engine, readonly=True) as session:
            scheduler_beat = scheduler_health.latest_heartbeat(session, JobType.SCHEDULER)
            executor = scheduler_health.latest_scheduler_executor(session)
            processor_beat = scheduler_health.latest_heartbeat(session, JobType.DAG_PROCESSOR)
    except Exception:
        body["metadatabase"]["status"] = "unhealthy"
    limit = float(settings.get("scheduler", "heartbeat_timeout"))
    body["scheduler"] = {
        "status": _status(scheduler_beat, limit, known=True),
        "latest_scheduler_heartbeat": scheduler_beat.isoformat() if scheduler_beat else None,
        # Not in Airflow's answer: which executor the running scheduler uses.
        "executor": executor,
    }
    body["triggerer"] = {"status": None, "latest_triggerer_heartbeat": None}
    # The processor beats once per scan.
    processor_limit = limit + float(settings.get("dag_processor", "refresh_interval"))
    body["dag_processor"] = {
        "status": _status(processor_beat, processor_limit, known=False),
        "latest_dag_processor_heartbeat": processor_beat.isoformat() if processor_beat else None,
    }
    return body


def _status(beat: Any, limit: float, *, known: bool) -> str | None:
    """healthy/unhealthy by the heartbeat's age; without one, unhealthy (``known``) or null."""
    if beat is None:
        return "unhealthy" if known else None
    return "healthy" if timezone.utcnow() - beat < timedelta(seconds=limit) else "unhealthy"


@router.get("/version")
def get_version() -> dict[str, Any]:
    return {"version": __version__, "git_version": None}
