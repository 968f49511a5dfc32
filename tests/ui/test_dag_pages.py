"""The DAG list and the tabs of a DAG's page, for every role, on real metastores."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tradewind.api.ui import pages_runs
from tradewind.db.models import ParseImportError

from .helpers import ALL_OK, NOW, ROLES, grouped_dag, plain_dag


@pytest.fixture
def seeded(store_dag: Callable[..., int], add_run: Callable[..., str]) -> dict[str, object]:
    v1 = store_dag(grouped_dag(), "# version one\nVERSION = 1\n")
    first = add_run("ui_groups", v1, states=ALL_OK, day=0)
    v2 = store_dag(grouped_dag(version=2), "# version two\nVERSION = 2\n")
    failed = add_run(
        "ui_groups",
        v2,
        state="failed",
        day=1,
        states={
            **ALL_OK,
            "etl.load": "failed",
            "each[1]": "upstream_failed",
            "end": None,
            "audit": None,
        },
    )
    store_dag(plain_dag("ui_plain"))
    store_dag(plain_dag("other_dag", tags=("finance",)), paused=True)
    return {"v1": v1, "v2": v2, "first": first, "failed": failed}


@pytest.mark.parametrize("role", ROLES)
def test_every_page_answers_200_to_every_role(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str], role: str
) -> None:
    login(role)
    run = quote(seeded["failed"], safe="")
    pages = [
        "/dags",
        "/runs",
        "/audit-log",
        "/pools",
        "/dags/ui_groups",
        "/dags/ui_groups/graph",
        "/dags/ui_groups/graph?expanded=*",
        "/dags/ui_groups/calendar",
        "/dags/ui_groups/gantt",
        "/dags/ui_groups/code",
        "/dags/ui_groups/details",
        f"/dags/ui_groups/runs/{run}",
        f"/dags/ui_groups/runs/{run}/tasks/etl.load",
        f"/dags/ui_groups/runs/{run}/tasks/each?map_index=1",
        "/dags/ui_groups/grid.json",
        f"/dags/ui_groups/runs/{run}/states.json",
        f"/dags/ui_groups/graph.json?run_id={run}",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:400])
    for ops_only in ("/variables", "/connections"):  # they hold secrets: Op and Admin only
        assert client.get(ops_only).status_code == (200 if role in ("Op", "Admin") else 403)
    users_page = client.get("/users")
    assert users_page.status_code == (200 if role == "Admin" else 403)


def test_dag_list_shows_schedule_runs_and_actions(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("User")
    page = client.get("/dags").text
    assert 'data-dag-id="ui_groups"' in page and 'data-dag-id="ui_plain"' in page
    assert "At 00:00, every day" in page  # the timetable's description
    assert "Never, manually triggered only" in page
    assert 'data-state="failed">failed</span>' in page  # last run state
    assert "2024-02-21 21:00 KST" in page  # last run's logical date in Asia/Seoul
    assert (
        'data-trigger="ui_groups"' in page and 'href="/dags/ui_groups/trigger"' in page
    )  # params: a form
    assert 'formaction="/dags/ui_plain/trigger"' in page  # no params: triggers at once
    marks = re.search(r'<script type="application/json" id="run-marks">(.*?)</script>', page, re.S)
    assert marks is not None and '"failed"' in marks.group(1) and '"success"' in marks.group(1)


def test_dag_list_poll_gives_recent_runs(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    marks = client.get("/dags/recent.json?ids=ui_groups,ui_plain").json()
    assert [bar[1] for bar in marks["ui_groups"]] == ["success", "failed"]
    assert marks["ui_groups"][0][0] == seeded["first"]  # run ids stay readable in paths
    assert marks["ui_plain"] == []


def test_dag_list_search_tags_status_and_paging(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    assert 'data-dag-id="ui_plain"' not in client.get("/dags?q=GROUPS").text
    assert 'data-dag-id="ui_groups"' in client.get("/dags?q=GROUPS").text
    by_tag = client.get("/dags?tags=finance").text
    assert 'data-dag-id="other_dag"' in by_tag and 'data-dag-id="ui_groups"' not in by_tag
    paused = client.get("/dags?status=paused").text
    assert 'data-dag-id="other_dag"' in paused and 'data-dag-id="ui_plain"' not in paused
    first = client.get("/dags?page_size=25&q=%25").text  # a literal % matches nothing
    assert "No DAG matches the filters" in first


def test_viewer_sees_no_trigger_and_no_enabled_toggle(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    page = client.get("/dags").text
    assert "data-trigger=" not in page
    assert re.search(r'<input type="checkbox"[^>]*disabled', page)
    assert 'id="trigger-button"' not in client.get("/dags/ui_groups").text


def test_import_errors_are_shown_with_file_and_traceback(
    client: TestClient, login: Callable[[str], str], engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            ParseImportError.__table__.insert(),
            {
                "filename": "/dags/broken.py",
                "timestamp": NOW,
                "stacktrace": (
                    "Traceback (most recent call last):\n"
                    "ModuleNotFoundError: No module named 'nope'"
                ),
            },
        )
    login("Viewer")
    page = client.get("/dags").text
    assert "1 DAG file could not be imported" in page
    assert "/dags/broken.py" in page and "No module named &#39;nope&#39;" in page


def test_the_dag_list_shows_the_first_import_errors_cut_and_counts_them_all(
    client: TestClient,
    login: Callable[[str], str],
    engine: Engine,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            ParseImportError.__table__.insert(),
            [
                {
                    "filename": f"/dags/broken_{number:03}.py",
                    "timestamp": NOW,
                    "stacktrace": "q" * 1_000_000,
                }
                for number in range(60)
            ],
        )
    login("Viewer")
    page = client.get("/dags").text
    assert "60 DAG files could not be imported" in page and "The first 50 by file name" in page
    assert "/dags/broken_049.py" in page and "/dags/broken_050.py" not in page
    assert len(page) < 200_000  # not 60 MB


def test_grid_has_runs_tasks_groups_and_mapped_counts(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    page = client.get("/dags/ui_groups").text
    assert 'data-node="etl" data-parent="" data-kind="group"' in page
    assert 'data-node="etl.load" data-parent="etl" data-kind="task"' in page
    assert page.count('class="runbar"') == 2
    failed = seeded["failed"]
    cell = re.search(
        rf'<span class="cell group" data-node="etl" data-run="{re.escape(failed)}" '
        r'data-state="(\w*)"',
        page,
    )
    assert cell is not None and cell.group(1) == "failed"  # a group shows its most urgent state
    grid = client.get("/dags/ui_groups/grid.json").json()
    assert [run["state"] for run in grid["runs"]] == ["success", "failed"]
    assert grid["cells"]["each"][seeded["first"]] == ["success", 3]  # mapped: 3 instances
    assert grid["cells"]["each"][failed] == ["upstream_failed", 3]
    assert grid["cells"]["etl"][failed][0] == "failed"
    assert "audit" in page  # the newest version's task


def test_graph_and_code_are_those_of_the_version_the_run_used(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    first, failed = quote(seeded["first"], safe=""), quote(seeded["failed"], safe="")
    old = client.get(f"/dags/ui_groups/graph.json?run_id={first}").json()
    new = client.get(f"/dags/ui_groups/graph.json?run_id={failed}").json()
    assert [t[0] for t in old["tasks"]] == [
        "start",
        "etl.extract",
        "etl.load",
        "each",
        "end",
    ] and old["version"] == 1
    assert [t[0] for t in new["tasks"]][-1] == "audit" and new["version"] == 2
    assert "Version v1" in client.get(f"/dags/ui_groups/graph?run_id={first}").text
    page = client.get(f"/dags/ui_groups/graph?run_id={failed}").text
    assert (
        "Version v2" in page and f'data-graph="/dags/ui_groups/graph.json?run_id={failed}"' in page
    )
    code_old = client.get(f"/dags/ui_groups/code?run_id={quote(seeded['first'], safe='')}").text
    assert "version one" in code_old and "version two" not in code_old
    assert "version two" in client.get("/dags/ui_groups/code").text
    assert "version one" in client.get("/dags/ui_groups/code?version=1").text


def test_graph_state_colours_come_from_the_run(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    run = quote(seeded["failed"], safe="")
    page = client.get(f"/dags/ui_groups/graph?run_id={run}").text
    assert f'data-states="/dags/ui_groups/runs/{seeded["failed"]}/states.json"' in page
    assert 'id="run-state" data-state="failed"' in page
    states = client.get(f"/dags/ui_groups/runs/{run}/states.json").json()
    assert states["state"] == "failed"
    assert states["nodes"]["etl.load"] == ["failed", 0]
    assert states["nodes"]["etl"] == ["failed", 0]
    assert states["nodes"]["each"] == ["upstream_failed", 3]


def test_run_page_shows_details_and_task_instances(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    page = client.get(f"/dags/ui_groups/runs/{quote(seeded['failed'], safe='')}").text
    assert "scheduled" in page and "v2" in page
    assert "2024-02-20 21:00:00 KST" in page  # logical date in the UI zone
    assert "3.00s" not in page and "3m 00s" in page  # run duration
    assert 'id="run-actions"' not in page  # a Viewer gets no buttons


def test_gantt_and_calendar(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    gantt = client.get(f"/dags/ui_groups/gantt?run_id={quote(seeded['first'], safe='')}").text
    assert gantt.count('class="gbar"') == 7
    calendar = client.get("/dags/ui_groups/calendar").text
    assert 'data-day="2024-02-20"' in calendar or "Runs per day" in calendar


def test_unknown_dag_is_a_404_page(client: TestClient, login: Callable[[str], str]) -> None:
    login("Viewer")
    response = client.get("/dags/missing")
    assert response.status_code == 404
    assert "not found" in response.text


def test_details_tab_lists_tasks_params_and_versions(
    client: TestClient, login: Callable[[str], str], seeded: dict[str, str]
) -> None:
    login("Viewer")
    page = client.get("/dags/ui_groups/details").text
    assert "How many" in page and "etl.extract" in page and ">v1<" in page and ">v2<" in page


def test_the_runs_list_counts_only_a_few_pages_ahead(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    add_run: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pages_runs, "COUNT_AHEAD", 1)  # page 1 counts up to 100 runs
    version = store_dag(plain_dag("many_runs"))
    for day in range(101):
        add_run("many_runs", version, day=day, states={})
    login("Viewer")
    first = client.get("/runs")
    assert first.status_code == 200
    assert "more than 100 runs · page 1 of more than 2" in first.text
    assert 'href="/runs?page=2"' in first.text
    # Page 2 counts up to 150: all 101 are known, the last page is 3.
    second = client.get("/runs?page=2")
    assert "101 runs · page 2 of 3" in second.text
    assert "more than" not in second.text
