"""``/api/v2/dags/{dag_id}/tasks``: the tasks of a DAG's latest version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from tradewind.api import deps
from tradewind.api.deps import ApiSession, Reader
from tradewind.api.schemas.tasks import TaskCollectionResponse, TaskResponse
from tradewind.exceptions import TaskNotFound
from tradewind.services import dags

router = APIRouter(
    prefix="/api/v2/dags/{dag_id}/tasks",
    tags=["Task"],
    generate_unique_id_function=deps.operation_id,
)


def _sort_key(name: str) -> Any:
    def key(task: Any) -> tuple[bool, Any]:
        value = getattr(task, name)
        value = getattr(value, "value", value)
        return (value is None, "" if value is None else value)

    return key


@router.get("", response_model=TaskCollectionResponse)
def get_tasks(
    dag_id: str, session: ApiSession, user: Reader, order_by: str = "task_id"
) -> TaskCollectionResponse:
    """Every task, ordered by any task attribute (``-`` prefix for descending)."""
    _, _, dag = dags.latest_dag(session, dag_id)
    name = order_by.lstrip("-")
    tasks = list(dag.task_dict.values())
    if tasks and not hasattr(tasks[0], name):
        raise HTTPException(
            status_code=400,
            detail=(
                f"Ordering with '{name}' is disallowed or the attribute does not exist on the model"
            ),
        )
    try:
        tasks.sort(key=_sort_key(name), reverse=order_by.startswith("-"))
    except TypeError:
        raise HTTPException(
            status_code=400,
            detail=f"Ordering with '{name}' is not possible: its values cannot be compared",
        ) from None
    return TaskCollectionResponse(
        tasks=[TaskResponse.of(task) for task in tasks], total_entries=len(tasks)
    )


@router.get("/{task_id}", response_model=TaskResponse)
def get_task(dag_id: str, task_id: str, session: ApiSession, user: Reader) -> TaskResponse:
    _, _, dag = dags.latest_dag(session, dag_id)
    task = dag.task_dict.get(task_id)
    if task is None:
        raise TaskNotFound(f"Task with id {task_id} not found")
    return TaskResponse.of(task)
