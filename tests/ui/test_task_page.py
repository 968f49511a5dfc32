"""The task instance page: every try, the log of each, and following a log while it grows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine

from tradewind import config
from tradewind.db.models import TaskInstance, TaskInstanceHistory
from tradewind.runner import log_paths

from .helpers import NOW, grouped_dag


def _write_log(
    settings: config.Settings,
    run_id: str,
    task_id: str,
    try_number: int,
    text: str,
    map_index: int = -1,
) -> None:
    path = log_paths.try_log_path(
        settings.log_folder, "ui_groups", run_id, task_id, map_index, try_number
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_every_try_with_its_log(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    add_run: Callable[..., str],
    engine: Engine,
    ui_settings: config.Settings,
) -> None:
    version = store_dag(grouped_dag())
    run_id = add_run("ui_groups", version, states={"start": "success"})
    with engine.begin() as conn:
        conn.execute(
            update(TaskInstance).where(TaskInstance.task_id == "start").values(try_number=2)
        )
        conn.execute(
            TaskInstanceHistory.__table__.insert(),
            {
                "dag_id": "ui_groups",
                "run_id": run_id,
                "task_id": "start",
                "map_index": -1,
                "try_number": 1,
                "max_tries": 1,
                "state": "up_for_retry",
                "pool": "default_pool",
                "pool_slots": 1,
                "priority_weight": 1,
                "queue": "default",
                "start_date": NOW - timedelta(minutes=5),
                "end_date": NOW - timedelta(minutes=4),
                "duration": 60.0,
                "updated_at": NOW,
            },
        )
    _write_log(ui_settings, run_id, "start", 1, "first try <b>failed</b>\n")
    _write_log(ui_settings, run_id, "start", 2, "second try worked\n")
    login("Viewer")
    base = f"/dags/ui_groups/runs/{quote(run_id, safe='')}/tasks/start"
    page = client.get(base).text
    assert "Try 1" in page and "Try 2" in page
    assert 'data-state="up_for_retry">up_for_retry</span>' in page
    assert "second try worked" in page and "first try" not in page  # the latest try is shown
    first = client.get(base + "?try_number=1").text
    assert "first try &lt;b&gt;failed&lt;/b&gt;" in first  # log text is escaped
    raw = client.get(base + "/log.txt?try_number=1")
    assert raw.status_code == 200 and raw.text == "first try <b>failed</b>\n"
    assert client.get(base + "/log.txt?try_number=7").status_code == 404


def test_log_is_followed_while_the_try_runs(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    add_run: Callable[..., str],
    engine: Engine,
    ui_settings: config.Settings,
) -> None:
    version = store_dag(grouped_dag())
    run_id = add_run("ui_groups", version, state="running", states={"start": "running"})
    _write_log(ui_settings, run_id, "start", 1, "line 1\n")
    login("Viewer")
    url = f"/dags/ui_groups/runs/{quote(run_id, safe='')}/tasks/start/log.json?try_number=1"
    page = client.get(f"/dags/ui_groups/runs/{quote(run_id, safe='')}/tasks/start").text
    assert 'id="follow"' in page and 'data-done=""' in page
    first = client.get(url + "&offset=0").json()
    assert first["text"] == "line 1\n" and not first["end_of_log"] and first["state"] == "running"
    _write_log(ui_settings, run_id, "start", 1, "line 2\npartial")
    second = client.get(url + f"&offset={first['offset']}").json()
    assert second["text"] == "line 2\n"  # a half-written line waits for its end
    _write_log(ui_settings, run_id, "start", 1, " line\n")
    with engine.begin() as conn:
        conn.execute(
            update(TaskInstance).where(TaskInstance.task_id == "start").values(state="success")
        )
    last = client.get(url + f"&offset={second['offset']}").json()
    assert last["text"] == "partial line\n" and last["end_of_log"] and last["state"] == "success"


def test_mapped_task_lists_its_instances(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    add_run: Callable[..., str],
) -> None:
    version = store_dag(grouped_dag())
    run_id = add_run(
        "ui_groups",
        version,
        states={"each[0]": "success", "each[1]": "failed", "each[2]": "success"},
    )
    login("Viewer")
    page = client.get(f"/dags/ui_groups/runs/{quote(run_id, safe='')}/tasks/each?map_index=1").text
    assert "Mapped instances (3)" in page and "each[1]" in page
    assert (
        client.get(f"/dags/ui_groups/runs/{quote(run_id, safe='')}/tasks/nope").status_code == 404
    )
