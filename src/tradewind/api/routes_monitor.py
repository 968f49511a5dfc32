"""``/api/v2/monitor/health`` and ``/api/v2/version``: open without login, like Airflow's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request

from tradewind import __version__
from tradewind.db import engine as db_engine
from tradewind.db.models import JobType
from tradewind.sdk import timezone
from tradewind.services import scheduler_health

router = APIRouter(prefix="/api/v2", tags=["Monitor"])


@router.get("/monitor/health")
def health(request: Request) -> dict[str, Any]:
    """Metastore reachable; scheduler healthy when its heartbeat is recent."""
    body: dict[str, Any] = {"metadatabase": {"status": "healthy"}}
    try:
        with db_engine.session_scope(request.app.state.engine, readonly=True) as session:
            beat = scheduler_health.latest_heartbeat(session, JobType.SCHEDULER)
    except Exception:
        body["metadatabase"]["status"] = "unhealthy"
        beat = None
    limit = float(request.app.state.settings.get("scheduler", "heartbeat_timeout"))
    healthy = beat is not None and timezone.utcnow() - beat < timedelta(seconds=limit)
    body["scheduler"] = {
        "status": "healthy" if healthy else "unhealthy",
        "latest_scheduler_heartbeat": beat.isoformat() if beat else None,
    }
    body["triggerer"] = {"status": None, "latest_triggerer_heartbeat": None}
    body["dag_processor"] = {"status": None, "latest_dag_processor_heartbeat": None}
    return body


@router.get("/version")
def version() -> dict[str, Any]:
    return {"version": __version__, "git_version": None}
