"""Trigger, pause, clear, mark and delete from the UI: allowed by role, CSRF-checked, audited."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tradewind.db.models import Dag, DagRun, TaskInstance

from .helpers import ALL_OK, grouped_dag, plain_dag


@pytest.fixture
def seeded(store_dag: Callable[..., int], add_run: Callable[..., str]) -> dict[str, str]:
    version = store_dag(grouped_dag())
    failed = add_run(
        "ui_groups",
        version,
        state="failed",
        states={**ALL_OK, "etl.load": "failed", "end": "upstream_failed"},
    )
    store_dag(plain_dag("ui_plain"), paused=True)
    return {"failed": failed}


def _runs(engine: Engine, dag_id: str) -> list[DagRun]:
    with engine.connect() as conn:
        return list(conn.execute(select(DagRun).where(DagRun.dag_id == dag_id)).all())


def _ti_states(engine: Engine, run_id: str) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
                TaskInstance.run_id == run_id
            )
        ).all()
    return {task_id + ("" if index < 0 else f"[{index}]"): state for task_id, index, state in rows}


def run_url(run_id: str, *parts: str) -> str:
    return "/".join(["/dags/ui_groups/runs", quote(run_id, safe=""), *parts])


def test_trigger_without_params_creates_a_run_and_an_audit_entry(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
    audit_events: Callable[[], list[tuple[str, str | None, str | None]]],
) -> None:
    csrf = login("User")
    response = client.post(
        "/dags/ui_plain/trigger", data={"csrf_token": csrf, "next": "/dags/ui_plain"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dags/ui_plain"
    runs = _runs(engine, "ui_plain")
    assert len(runs) == 1 and runs[0].state == "queued" and runs[0].triggered_by == "ui"
    assert ("trigger", "user_user", "ui_plain") in audit_events()
    assert "Triggered ui_plain" in client.get("/dags/ui_plain").text


def test_trigger_form_validates_params_and_shows_errors(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
) -> None:
    csrf = login("User")
    form = client.get("/dags/ui_groups/trigger")
    assert form.status_code == 200 and 'name="param.n"' in form.text and 'value="3"' in form.text
    bad = client.post(
        "/dags/ui_groups/trigger", data={"csrf_token": csrf, "form": "1", "param.n": "zero"}
    )
    assert bad.status_code == 400 and "must be a whole number" in bad.text
    too_small = client.post(
        "/dags/ui_groups/trigger", data={"csrf_token": csrf, "form": "1", "param.n": "0"}
    )
    assert too_small.status_code == 400 and "param &#39;n&#39;" in too_small.text
    bad_json = client.post(
        "/dags/ui_groups/trigger",
        data={"csrf_token": csrf, "form": "1", "param.n": "4", "conf_json": "[1"},
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.text
    assert len(_runs(engine, "ui_groups")) == 1  # nothing was created
    good = client.post(
        "/dags/ui_groups/trigger",
        data={
            "csrf_token": csrf,
            "form": "1",
            "param.n": "5",
            "conf_json": '{"extra": true}',
            "note": "by hand",
        },
    )
    assert good.status_code == 303
    manual = [run for run in _runs(engine, "ui_groups") if run.run_type == "manual"]
    assert manual and manual[0].conf == {"n": 5, "extra": True} and manual[0].note == "by hand"


def test_pause_toggle_answers_json_and_is_audited(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
    audit_events: Callable[[], list[tuple[str, str | None, str | None]]],
) -> None:
    csrf = login("User")
    response = client.post(
        "/dags/ui_plain/pause",
        data={"paused": "false"},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json() == {"dag_id": "ui_plain", "is_paused": False}
    with engine.connect() as conn:
        assert (
            conn.execute(select(Dag.is_paused).where(Dag.dag_id == "ui_plain")).scalar_one()
            is False
        )
    assert ("unpause", "user_user", "ui_plain") in audit_events()


def test_clear_a_failed_run(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
    audit_events: Callable[[], list[tuple[str, str | None, str | None]]],
) -> None:
    csrf = login("User")
    response = client.post(
        run_url(seeded["failed"], "clear"), data={"csrf_token": csrf, "only_failed": "true"}
    )
    assert response.status_code == 303
    states = _ti_states(engine, seeded["failed"])
    assert states["etl.load"] is None and states["end"] is None and states["start"] == "success"
    assert _runs(engine, "ui_groups")[0].state == "queued"
    assert ("clear", "user_user", "ui_groups") in audit_events()
    assert "Cleared 2 failed task instances" in client.get(run_url(seeded["failed"])).text


def test_mark_run_success_then_delete_it(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
    audit_events: Callable[[], list[tuple[str, str | None, str | None]]],
) -> None:
    csrf = login("Op")
    assert (
        client.post(
            run_url(seeded["failed"], "mark"), data={"csrf_token": csrf, "state": "success"}
        ).status_code
        == 303
    )
    assert set(_ti_states(engine, seeded["failed"]).values()) == {"success"}
    assert _runs(engine, "ui_groups")[0].state == "success"
    response = client.post(run_url(seeded["failed"], "delete"), data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/dags/ui_groups"
    assert _runs(engine, "ui_groups") == []
    events = [event for event, _, _ in audit_events()]
    assert events[-2:] == ["mark_run_success", "delete_run"]


def test_mark_and_clear_one_task(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str], engine: Engine
) -> None:
    csrf = login("User")
    response = client.post(
        run_url(seeded["failed"], "tasks", "etl.load", "mark"),
        data={"csrf_token": csrf, "state": "success", "map_index": "-1"},
    )
    assert response.status_code == 303
    assert _ti_states(engine, seeded["failed"])["etl.load"] == "success"
    client.post(
        run_url(seeded["failed"], "tasks", "start", "clear"),
        data={"csrf_token": csrf, "map_index": "-1"},
    )
    assert _ti_states(engine, seeded["failed"])["start"] is None


def test_clearing_a_running_task_is_refused_with_a_message(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    add_run: Callable[..., str],
) -> None:
    version = store_dag(grouped_dag())
    run_id = add_run("ui_groups", version, state="running", states={"start": "running"})
    csrf = login("User")
    client.post(
        run_url(run_id, "tasks", "start", "clear"), data={"csrf_token": csrf, "map_index": "-1"}
    )
    assert "queued or running" in client.get(run_url(run_id, "tasks", "start")).text


FORBIDDEN_FOR_VIEWER = [
    ("/dags/ui_plain/trigger", {}),
    ("/dags/ui_plain/pause", {"paused": "false"}),
    ("RUN/clear", {}),
    ("RUN/mark", {"state": "success"}),
    ("RUN/delete", {}),
    ("RUN/tasks/start/clear", {}),
    ("RUN/tasks/start/mark", {"state": "failed"}),
    ("/variables", {"key": "k", "value": "v"}),
    ("/connections", {"conn_id": "c", "conn_type": "http"}),
    ("/pools", {"pool": "p", "slots": "3"}),
    ("/users", {"username": "x", "password": "y", "role": "Admin"}),
]


@pytest.mark.parametrize(("path", "data"), FORBIDDEN_FOR_VIEWER)
def test_viewer_posts_are_forbidden(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
    path: str,
    data: dict[str, str],
) -> None:
    csrf = login("Viewer")
    path = path.replace("RUN", run_url(seeded["failed"]))
    response = client.post(path, data={"csrf_token": csrf, **data})
    assert response.status_code == 403
    assert "Your role (Viewer) may not" in response.text
    assert len(_runs(engine, "ui_plain")) == 0 and len(_runs(engine, "ui_groups")) == 1


@pytest.mark.parametrize("role", ["User", "Op"])
def test_only_op_and_admin_edit_config_and_only_admin_users(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    role: str,
) -> None:
    csrf = login(role)
    variable = client.post("/variables", data={"csrf_token": csrf, "key": "k", "value": "v"})
    assert variable.status_code == (303 if role == "Op" else 403)
    assert (
        client.post(
            "/users", data={"csrf_token": csrf, "username": "x", "password": "y", "role": "Admin"}
        ).status_code
        == 403
    )
    assert client.get("/users/new").status_code == 403


@pytest.mark.parametrize(
    "path", ["/dags/ui_plain/trigger", "RUN/clear", "RUN/delete", "/variables"]
)
def test_posts_without_the_csrf_token_are_rejected(
    client: TestClient,
    login: Callable[[str], str],
    seeded: dict[str, str],
    engine: Engine,
    path: str,
) -> None:
    login("Admin")
    path = path.replace("RUN", run_url(seeded["failed"]))
    for data in ({}, {"csrf_token": "not-the-token"}):
        response = client.post(path, data={**data, "key": "k", "value": "v"})
        assert response.status_code == 403
        assert "expired" in response.text
    assert len(_runs(engine, "ui_plain")) == 0 and len(_runs(engine, "ui_groups")) == 1


def test_action_buttons_follow_the_role(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("User")
    run_page = client.get(run_url(seeded["failed"])).text
    assert 'id="clear-run"' in run_page and 'id="delete-run"' in run_page
    task_page = client.get(run_url(seeded["failed"], "tasks", "etl.load")).text
    assert 'id="mark-task-success"' in task_page
    assert 'id="add-variable"' not in client.get("/variables").text
