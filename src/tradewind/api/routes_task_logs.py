"""``.../taskInstances/{task_id}/logs/{try_number}``: the log of one try, to read or to follow.

JSON (the default) gives structured messages; ``Accept: application/x-ndjson`` one message
per line; ``Accept: text/plain`` the log as written. While the try runs, the answer carries a
continuation token (in the body, and in the ``Airflow-Continuation-Token`` header): pass it as
``token`` to get what was written since. A finished try's log comes whole, without a token.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from itsdangerous import BadSignature

from tradewind.api import deps
from tradewind.api.deps import ApiSession, Reader
from tradewind.api.schemas.logs import StructuredLogMessage, TaskInstancesLogResponse
from tradewind.services import task_instances, task_logs

router = APIRouter(
    prefix="/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
    tags=["Task Instance"],
    generate_unique_id_function=deps.operation_id,
)

TOKEN_SALT = "tradewind.api.log_token"
TOKEN_HEADER = "Airflow-Continuation-Token"
MEDIA_TYPES = ("application/json", "application/x-ndjson", "text/plain")


def _offset(request: Request, token: str | None, key: list[Any]) -> int:
    if not token:
        return 0
    try:
        data = deps.signer(request, TOKEN_SALT).loads(token)
    except BadSignature:
        raise HTTPException(
            status_code=400, detail="Bad Signature. Please use only the tokens provided by the API."
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("ti") != key
        or not isinstance(data.get("log_pos"), int)
    ):
        raise HTTPException(
            status_code=400, detail="The continuation token belongs to another task instance or try"
        )
    return int(data["log_pos"])


@router.get(
    "/{task_id}/logs/{try_number}",
    response_model=TaskInstancesLogResponse,
    responses={
        200: {
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            }
        }
    },
)
def get_log(
    dag_id: str,
    dag_run_id: str,
    task_id: str,
    try_number: Annotated[int, Path(ge=1)],
    request: Request,
    response: Response,
    session: ApiSession,
    user: Reader,
    full_content: bool = False,
    map_index: int = -1,
    token: str | None = None,
) -> Any:
    """The log of try ``try_number`` (from where ``token`` left off, unless ``full_content``)."""
    key = [dag_id, dag_run_id, task_id, map_index, try_number]
    offset = 0 if full_content else _offset(request, token, key)
    task_instances.get_try(session, dag_id, dag_run_id, task_id, try_number, map_index)
    current = task_instances.get(session, dag_id, dag_run_id, task_id, map_index)
    over = task_instances.try_is_over(current, try_number)
    path = task_logs.log_path(
        deps.app_settings(request).log_folder, dag_id, dag_run_id, task_id, map_index, try_number
    )
    chunk = task_logs.read(path, offset=offset, try_over=over)
    lines = chunk.lines
    if not chunk.exists and chunk.end_of_log and offset == 0:
        lines = [f"*** Log file does not exist: {path}"]
    continuation = None
    if not chunk.end_of_log:
        continuation = deps.signer(request, TOKEN_SALT).dumps(
            {"ti": key, "log_pos": chunk.next_offset, "end_of_log": False}
        )
    headers = {TOKEN_HEADER: continuation} if continuation else None
    media = deps.preferred_media_type(request, MEDIA_TYPES)
    if media == "text/plain":
        text = chunk.text if chunk.exists else "".join(line + "\n" for line in lines)
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)
    messages = [task_logs.structured(line) for line in lines]
    if media == "application/x-ndjson":
        body = "".join(json.dumps(message) + "\n" for message in messages)
        return Response(body, media_type="application/x-ndjson", headers=headers)
    if continuation:
        response.headers[TOKEN_HEADER] = continuation
    return TaskInstancesLogResponse(
        content=[StructuredLogMessage(**message) for message in messages],
        continuation_token=continuation,
    )
