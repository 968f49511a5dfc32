"""DAGs: ``DAGResponse``, ``DAGDetailsResponse``, ``DAGCollectionResponse``, ``DAGPatchBody``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from tradewind.api.schemas.common import BUNDLE_NAME, DagVersionResponse, RequestBody
from tradewind.db.models import DagVersion
from tradewind.sdk.dag import DAG
from tradewind.sdk.param import ParamsDict
from tradewind.services import dag_metadata
from tradewind.timetables import zones

DEFAULT_MAX_ACTIVE_TASKS = 16


class DagTagResponse(BaseModel):
    name: str
    dag_id: str
    dag_display_name: str


class DAGResponse(BaseModel):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    last_parsed_time: datetime | None = None
    last_parse_duration: float | None = None
    last_expired: datetime | None = None
    bundle_name: str | None = BUNDLE_NAME
    bundle_version: str | None = None
    relative_fileloc: str | None = None
    fileloc: str
    description: str | None = None
    timetable_summary: str | None = None
    timetable_description: str | None = None
    timetable_periodic: bool
    timetable_partitioned: bool = False
    tags: list[DagTagResponse]
    max_active_tasks: int
    max_active_runs: int | None = None
    max_consecutive_failed_dag_runs: int = 0
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun_logical_date: datetime | None = None
    next_dagrun_data_interval_start: datetime | None = None
    next_dagrun_data_interval_end: datetime | None = None
    next_dagrun_run_after: datetime | None = None
    allowed_run_types: list[str] | None = None
    owners: list[str]
    file_token: str
    is_backfillable: bool

    @classmethod
    def fields_of(
        cls, item: dag_metadata.DagListing, *, file_token: str, dags_folder: Path
    ) -> dict[str, Any]:
        row, summary = item.row, item.summary
        return {
            "dag_id": row.dag_id,
            "dag_display_name": item.display_name,
            "is_paused": row.is_paused,
            "is_stale": not row.is_active,
            "last_parsed_time": row.last_parsed_time,
            "relative_fileloc": _relative(row.fileloc, dags_folder),
            "fileloc": row.fileloc or "",
            "description": row.description,
            "timetable_summary": row.timetable_summary,
            "timetable_description": summary.timetable_description if summary else None,
            "timetable_periodic": summary.periodic if summary else False,
            "tags": [
                DagTagResponse(name=tag.name, dag_id=row.dag_id, dag_display_name=item.display_name)
                for tag in row.tags
            ],
            "max_active_tasks": row.max_active_tasks or DEFAULT_MAX_ACTIVE_TASKS,
            "max_active_runs": row.max_active_runs,
            "has_task_concurrency_limits": summary.has_task_concurrency_limits
            if summary
            else False,
            "has_import_errors": row.has_import_errors,
            "next_dagrun_logical_date": row.next_dagrun,
            "next_dagrun_data_interval_start": row.next_dagrun_data_interval_start,
            "next_dagrun_data_interval_end": row.next_dagrun_data_interval_end,
            "next_dagrun_run_after": row.next_dagrun_create_after,
            "owners": [owner.strip() for owner in (row.owners or "").split(",") if owner.strip()],
            "file_token": file_token,
            "is_backfillable": summary.periodic if summary else False,
        }

    @classmethod
    def of(
        cls, item: dag_metadata.DagListing, *, file_token: str, dags_folder: Path
    ) -> DAGResponse:
        return cls(**cls.fields_of(item, file_token=file_token, dags_folder=dags_folder))


class DAGDetailsResponse(DAGResponse):
    catchup: bool
    concurrency: int
    dag_run_timeout: timedelta | None = None
    asset_expression: dict[str, Any] | None = None
    doc_md: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    is_paused_upon_creation: bool | None = None
    params: dict[str, Any] | None = None
    render_template_as_native_obj: bool
    template_search_path: list[str] | None = None
    timezone: str | None = None
    last_parsed: datetime | None = None
    default_args: dict[str, Any] | None = None
    owner_links: dict[str, str] | None = None
    is_favorite: bool = False
    active_runs_count: int = 0
    latest_dag_version: DagVersionResponse | None = None
    rerun_with_latest_version: bool | None = None

    @classmethod
    def of_dag(
        cls,
        item: dag_metadata.DagListing,
        version: DagVersion,
        dag: DAG,
        *,
        file_token: str,
        dags_folder: Path,
        active_runs_count: int,
    ) -> DAGDetailsResponse:
        fields = cls.fields_of(item, file_token=file_token, dags_folder=dags_folder)
        return cls(
            **fields,
            catchup=dag.catchup,
            concurrency=fields["max_active_tasks"],
            dag_run_timeout=dag.dagrun_timeout,
            doc_md=dag.doc_md,
            start_date=dag.start_date,
            end_date=dag.end_date,
            is_paused_upon_creation=dag.is_paused_upon_creation,
            params=params_json(dag.params),
            render_template_as_native_obj=bool(dag.render_template_as_native_obj),
            template_search_path=[str(path) for path in dag.template_searchpath] or None,
            timezone=zones.timezone_name(dag.timezone),
            last_parsed=item.row.last_parsed_time,
            default_args=jsonable_encoder(
                dag.default_args, custom_encoder={timedelta: lambda v: v.total_seconds()}
            ),
            owner_links=dict(dag.owner_links) or None,
            active_runs_count=active_runs_count,
            latest_dag_version=DagVersionResponse.of(version),
        )


def params_json(params: ParamsDict) -> dict[str, Any]:
    """Params as Airflow's API shows them: ``{name:
    {"__class", "value", "description", "schema"}}``."""
    shown: dict[str, Any] = {}
    for name in params:
        param = params.get_param(name)
        shown[name] = {
            "__class": "airflow.sdk.definitions.param.Param",
            "value": jsonable_encoder(param.value if param.has_value else None),
            "description": param.description,
            "schema": jsonable_encoder(param.schema),
        }
    return shown


def _relative(fileloc: str | None, dags_folder: Path) -> str | None:
    if not fileloc:
        return None
    path = Path(fileloc)
    try:
        return str(path.relative_to(dags_folder.expanduser().resolve()))
    except ValueError:
        return path.name


class DAGCollectionResponse(BaseModel):
    dags: list[DAGResponse]
    total_entries: int


class DAGPatchBody(RequestBody):
    is_paused: bool
