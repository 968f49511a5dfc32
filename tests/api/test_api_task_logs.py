"""``.../taskInstances/{task_id}/logs/{try_number}``: JSON, NDJSON and text, and following a
running try with the continuation token."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from tradewind.config import Settings
from tradewind.services import task_logs

LINES = [
    "[2024-05-01T12:00:00.123+00:00] {task_process.py:140} INFO - Task started",
    "hello from print",
]
URL = "/api/v2/dags/api_example/dagRuns/r1/taskInstances/load/logs"


def _write(settings: Settings, try_number: int, text: str, *, append: bool = False) -> None:
    path = task_logs.log_path(settings.log_folder, "api_example", "r1", "load", -1, try_number)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a" if append else "w", encoding="utf-8") as handle:
        handle.write(text)


def test_finished_try_log(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    api_settings: Settings,
) -> None:
    make_run(run_id="r1")
    set_ti("r1", "load", state="success", try_number=1)
    _write(api_settings, 1, "\n".join(LINES) + "\n")

    body = client.get(f"{URL}/1", headers=admin).json()
    assert body["continuation_token"] is None
    assert body["content"] == [
        {
            "event": "Task started",
            "level": "info",
            "timestamp": "2024-05-01T12:00:00.123000+00:00",
            "filename": "task_process.py",
            "lineno": 140,
        },
        {"event": "hello from print", "timestamp": None},
    ]
    text = client.get(f"{URL}/1", headers={**admin, "Accept": "text/plain"})
    assert text.text == "\n".join(LINES) + "\n" and "Airflow-Continuation-Token" not in text.headers
    ndjson = client.get(f"{URL}/1", headers={**admin, "Accept": "application/x-ndjson"})
    assert [json.loads(line)["event"] for line in ndjson.text.splitlines()] == [
        "Task started",
        "hello from print",
    ]

    assert client.get(f"{URL}/2", headers=admin).status_code == 404
    assert client.get(f"{URL}/0", headers=admin).status_code == 422
    assert client.get(f"{URL}/1?map_index=2", headers=admin).status_code == 404
    assert client.get(f"{URL}/1?token=forged", headers=admin).json() == {
        "detail": "Bad Signature. Please use only the tokens provided by the API."
    }


def test_missing_log_file(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
) -> None:
    make_run(run_id="r1")
    set_ti("r1", "load", state="failed", try_number=1)
    content = client.get(f"{URL}/1", headers=admin).json()["content"]
    assert len(content) == 1 and content[0]["event"].startswith("*** Log file does not exist:")


def test_follow_a_running_try(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
    api_settings: Settings,
) -> None:
    make_run(run_id="r1")
    set_ti("r1", "load", state="running", try_number=1)
    _write(api_settings, 1, LINES[0] + "\nhalf a li")

    first = client.get(f"{URL}/1", headers=admin).json()
    assert [m["event"] for m in first["content"]] == ["Task started"]
    token = first["continuation_token"]
    assert token

    _write(api_settings, 1, "ne\nmore\n", append=True)
    second = client.get(f"{URL}/1", params={"token": token}, headers=admin).json()
    assert [m["event"] for m in second["content"]] == ["half a line", "more"]
    assert second["continuation_token"]

    set_ti("r1", "load", state="success")
    _write(api_settings, 1, "last words", append=True)
    last = client.get(
        f"{URL}/1", params={"token": second["continuation_token"]}, headers=admin
    ).json()
    assert [m["event"] for m in last["content"]] == ["last words"] and last[
        "continuation_token"
    ] is None

    text = client.get(
        f"{URL}/1", params={"token": token}, headers={**admin, "Accept": "text/plain"}
    )
    assert text.text == "half a line\nmore\nlast words"
    whole = client.get(
        f"{URL}/1", params={"token": token, "full_content": "true"}, headers=admin
    ).json()
    assert len(whole["content"]) == 4

    set_ti("r1", "transform", state="running", try_number=1)
    other = client.get(
        "/api/v2/dags/api_example/dagRuns/r1/taskInstances/transform/logs/1",
        params={"token": token},
        headers=admin,
    )
    assert other.status_code == 400 and "another task instance" in other.json()["detail"]


def test_queued_try_has_no_log_yet(
    client: TestClient,
    admin: dict[str, str],
    make_run: Callable[..., str],
    set_ti: Callable[..., None],
) -> None:
    make_run(run_id="r1")
    set_ti("r1", "load", state="queued", try_number=1)
    response = client.get(f"{URL}/1", headers=admin)
    body = response.json()
    assert body["content"] == [] and body["continuation_token"]
    assert response.headers["Airflow-Continuation-Token"] == body["continuation_token"]
