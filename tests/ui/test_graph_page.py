"""The graph page: the structure the server sends (compact, cached, compressed), and the graph
the browser lays out and draws from it, in headless Chromium against a real api-server.

Screenshots are saved under ``tests/artifacts/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tradewind import config, serialization
from tradewind.api.ui import models_graph
from tradewind.db import engine as db_engine
from tradewind.db.models import TaskInstance
from tradewind.services import db_admin, users

from . import big_dags, headless
from .big_dags import RUN_ID, big_dag
from .helpers import ALL_OK, grouped_dag, loop_dag, nested_dag

TRADEWIND = str(Path(sys.executable).parent / "tradewind")
#: What one task may cost the graph page of a big DAG: the HTML, the structure and the run's
#: states together, as sent. Before the browser drew the graph it was ~680 bytes.
BYTES_PER_TASK = 25
RUN = quote(RUN_ID, safe="")


def decode(graph: dict[str, Any]) -> tuple[list[str], set[tuple[str, str]], dict[str, list[str]]]:
    """Task ids, edges and each group's children (ids) of a graph.json body."""
    tasks = [task[0] for task in graph["tasks"]]
    pairs = graph["edges"]
    edges = {(tasks[pairs[i]], tasks[pairs[i + 1]]) for i in range(0, len(pairs), 2)}

    def name(child: int) -> str:
        return tasks[child] if child >= 0 else graph["groups"][-child - 1]["id"]

    children = {"": [name(c) for c in graph["root"]]}
    children.update(
        {group["id"]: [name(c) for c in group["children"]] for group in graph["groups"]}
    )
    return tasks, edges, children


def test_graph_json_holds_every_task_edge_and_group(
    client: TestClient, login: Callable[[str], str], store_dag: Callable[..., int]
) -> None:
    store_dag(nested_dag())
    login("Viewer")
    graph = client.get("/dags/nested/graph.json").json()
    tasks, edges, children = decode(graph)
    assert graph["dag_id"] == "nested" and graph["version"] == 1
    assert tasks == ["start", "outer.inner.a", "outer.inner.b", "outer.c", "side.d", "end"]
    assert edges == {
        ("start", "outer.inner.a"),
        ("start", "outer.inner.b"),
        ("start", "side.d"),
        ("outer.inner.a", "outer.c"),
        ("outer.inner.b", "end"),
        ("outer.c", "end"),
        ("side.d", "end"),
    }
    assert children == {
        "": ["start", "outer", "side", "end"],
        "outer": ["outer.inner", "outer.c"],
        "outer.inner": ["outer.inner.a", "outer.inner.b"],
        "side": ["side.d"],
    }
    assert {graph["operators"][task[1]] for task in graph["tasks"]} == {"EmptyOperator"}


def test_graph_json_marks_mapped_tasks_and_states_summarise_groups(
    client: TestClient,
    login: Callable[[str], str],
    store_dag: Callable[..., int],
    add_run: Callable[..., str],
) -> None:
    version = store_dag(grouped_dag())
    run = add_run("ui_groups", version, state="failed", states={**ALL_OK, "etl.extract": "failed"})
    login("Viewer")
    graph = client.get(f"/dags/ui_groups/graph.json?run_id={quote(run, safe='')}").json()
    mapped = {task[0] for task in graph["tasks"] if task[2]}
    assert mapped == {"each"}
    assert graph["operators"][graph["tasks"][3][1]] == "@task"
    states = client.get(f"/dags/ui_groups/runs/{quote(run, safe='')}/states.json").json()
    assert states["nodes"]["etl"] == ["failed", 0] and states["nodes"]["each"] == ["success", 3]


def test_graph_json_is_compressed_and_revalidated(
    client: TestClient, login: Callable[[str], str], store_dag: Callable[..., int]
) -> None:
    store_dag(big_dag("fan", 200))
    login("Viewer")
    first = client.get("/dags/fan_200/graph.json", headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in first.headers["vary"] and first.headers["etag"].startswith(
        'W/"graph-'
    )
    plain = client.get("/dags/fan_200/graph.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == first.json()
    assert int(first.headers["content-length"]) < len(plain.content) / 3
    again = client.get("/dags/fan_200/graph.json", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_a_stored_dag_that_is_not_whole_is_drawn_or_refused_clearly() -> None:
    data = serialization.serialize_dag(nested_dag())
    del data["task_group"]["children"][1]  # "outer" and its tasks
    data["task_group"]["children"].append("start")  # named twice
    document = models_graph.build_document("nested", 1, 1, "hash", json.dumps(data))
    tasks, edges, children = decode(json.loads(document.body))
    assert len(tasks) == 6 and len(edges) == 7
    assert children[""] == ["start", "side", "end", "outer.inner.a", "outer.inner.b", "outer.c"]
    data["tasks"][0] = {"downstream_task_ids": []}
    with pytest.raises(
        serialization.SerializationError, match="cannot read the tasks of stored DAG 'nested'"
    ):
        models_graph.build_document("nested", 1, 1, "hash", json.dumps(data))
    with pytest.raises(serialization.SerializationError, match="not valid JSON"):
        models_graph.build_document("nested", 1, 1, "hash", "{")
    with pytest.raises(serialization.SerializationError, match="layout version"):
        models_graph.build_document("nested", 1, 1, "hash", json.dumps({**data, "__version": 99}))


def test_a_missing_dag_or_version_is_a_clear_404(
    client: TestClient, login: Callable[[str], str]
) -> None:
    login("Viewer")
    response = client.get("/dags/nowhere/graph.json")
    assert response.status_code == 404 and "nowhere" in response.text
    assert client.get("/dags/nowhere/graph").status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", big_dags.SHAPES)
def test_the_graph_page_of_5000_tasks_is_small(
    client: TestClient, login: Callable[[str], str], engine: Engine, kind: str
) -> None:
    dag = big_dag(kind, 5000)

    db_engine.run_in_transaction(
        engine, lambda session: big_dags.store_with_run(session, dag, Path("/dags"))
    )
    login("Viewer")
    page = client.get(f"/dags/{dag.dag_id}/graph?run_id={RUN}")
    assert page.status_code == 200
    sizes = {"page": len(page.content)}
    for name, path in [
        ("graph", f"/dags/{dag.dag_id}/graph.json?run_id={RUN}"),
        ("states", f"/dags/{dag.dag_id}/runs/{RUN_ID}/states.json"),
    ]:
        answer = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert answer.status_code == 200, (path, answer.text[:200])
        sizes[name] = int(answer.headers["content-length"])
    assert sum(sizes.values()) < BYTES_PER_TASK * len(dag.tasks), sizes


# ---- in the browser -------------------------------------------------------------------------

BIG = 5000
SMALL_STATES = {"start": "success", "etl.extract": "success", "etl.load": "failed", "end": None}


def _seed(session: Session, folder: Path) -> None:
    users.create_user(session, username="viewer", password="viewer-pw", role="Viewer")
    big_dags.store_with_run(
        session,
        grouped_dag(),
        folder,
        run_state="failed",
        state_of=lambda index, task_id: SMALL_STATES.get(task_id),
        mapped={"each": ["success", "upstream_failed", "upstream_failed"]},
    )
    big_dags.store_with_run(
        session, nested_dag(), folder, run_state="success", state_of=lambda *_: "success"
    )
    big_dags.store_with_run(
        session, loop_dag(), folder, run_state="success", state_of=lambda *_: "success"
    )
    for kind in big_dags.SHAPES:
        big_dags.store_with_run(session, big_dag(kind, BIG), folder)


@pytest.fixture(scope="module")
def graph_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a home holding the small DAGs and the 5,000-task ones, each with a run."""
    home = tmp_path_factory.mktemp("graph_home")
    env = {
        **os.environ,
        "TRADEWIND_HOME": str(home),
        "TRADEWIND__CORE__DAGS_FOLDER": str(home / "dags"),
        "TRADEWIND__WEBSERVER__DEFAULT_UI_TIMEZONE": "UTC",
    }
    env.pop("TRADEWIND__DATABASE__URL", None)
    db_admin.run(config.load(env), lambda session: _seed(session, home / "dags"))
    return env


@pytest.fixture(scope="module")
def graph_server(graph_home: dict[str, str]) -> Iterator[str]:
    """An api-server on that home."""
    env = graph_home
    port = headless.free_port()
    with (Path(env["TRADEWIND_HOME"]) / "api.log").open("wb") as log:
        api = subprocess.Popen(
            [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            headless.wait_for(
                f"http://127.0.0.1:{port}/api/v2/monitor/health", time.monotonic() + 30, api
            )
            yield f"http://127.0.0.1:{port}"
        finally:
            headless.stop(api)


@pytest.fixture(scope="module")
def signed_in(graph_server: str) -> Iterator[Callable[[], Page]]:
    """Makes pages of one headless Chromium, signed in
    as a viewer; fails a test on a script error."""
    chromium = headless.chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=headless.CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(graph_server + "/login")
        page.fill("#username", "viewer")
        page.fill("#password", "viewer-pw")
        page.click("button[type=submit]")
        page.wait_for_selector("#dag-table")
        page.close()
        errors: list[str] = []

        def new_page() -> Page:
            fresh = context.new_page()
            fresh.on("pageerror", lambda error: errors.append(str(error)))
            return fresh

        try:
            yield new_page
        finally:
            browser.close()
        assert errors == []


def _open_graph(
    new_page: Callable[[], Page], base: str, dag_id: str, query: str = f"run_id={RUN}"
) -> Page:
    page = new_page()
    page.goto(f"{base}/dags/{dag_id}/graph?{query}")
    expect(page.locator("#graph")).to_have_attribute("data-ready", "true")
    return page


def _drawn(page: Page) -> dict[str, Any]:
    """What the graph shows: nodes (id -> kind, state), edges, group boxes."""
    return page.evaluate("""() => ({
        nodes: Object.fromEntries([...document.querySelectorAll('#graph g.gnode')].map(
            g => [g.dataset.node, [g.classList.contains('kind-group') ? 'group' : 'task',
                                   g.dataset.state || null]])),
        edges: [...document.querySelectorAll('#graph path.edge')].map(
            p => [p.dataset.source, p.dataset.target]),
        boxes: [...document.querySelectorAll('#graph g.box')].map(b => b.dataset.group),
    })""")


@pytest.mark.slow
def test_a_small_graph_shows_every_task_and_edge_with_its_state(
    graph_server: str, signed_in: Callable[[], Page]
) -> None:
    page = _open_graph(signed_in, graph_server, "ui_groups", f"run_id={RUN}&expanded=etl")
    drawn = _drawn(page)
    assert drawn["nodes"] == {
        "start": ["task", "success"],
        "etl.extract": ["task", "success"],
        "etl.load": ["task", "failed"],
        "each": ["task", "upstream_failed"],
        "end": ["task", None],
    }
    assert sorted(drawn["edges"]) == [
        ["each", "end"],
        ["etl.extract", "etl.load"],
        ["etl.load", "each"],
        ["start", "etl.extract"],
    ]
    assert drawn["boxes"] == ["etl"]
    expect(page.locator("#run-state")).to_have_attribute("data-state", "failed")
    expect(page.locator('g.gnode[data-node="each"] text.sub')).to_contain_text("3 mapped")
    headless.shot(page, "graph_small")
    page.locator('g.gnode[data-node="etl.load"] a').click()
    page.wait_for_url(f"**/dags/ui_groups/runs/{RUN_ID}/tasks/etl.load")
    page.close()


def _geometry_problems(page: Page) -> list[str]:
    """Overlapping nodes, edges that do not go left to right, boxes that miss a member (of what
    is drawn: an edge may lead out of the view)."""
    return page.evaluate("""() => {
        const problems = [];
        const nodes = [...document.querySelectorAll('#graph g.gnode')].map(g => {
            const [x, y] = g.getAttribute('transform').match(/[-\\d.]+/g).map(Number);
            const body = g.querySelector('rect.body');
            return {id: g.dataset.node, x, y,
                    w: +body.getAttribute('width'), h: +body.getAttribute('height')};
        });
        const byId = Object.fromEntries(nodes.map(n => [n.id, n]));
        const hit = (a, b) =>
            a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        nodes.forEach((a, i) => nodes.slice(i + 1).forEach(b => {
            if (hit(a, b)) problems.push('overlap ' + a.id + ' ' + b.id);
        }));
        document.querySelectorAll('#graph path.edge').forEach(p => {
            const a = byId[p.dataset.source], b = byId[p.dataset.target];
            if (a && b && !(a.x < b.x)) problems.push('edge ' + a.id + ' -> ' + b.id);
        });
        document.querySelectorAll('#graph g.box').forEach(g => {
            const r = g.querySelector('rect');
            const box = {x: +r.getAttribute('x'), y: +r.getAttribute('y'),
                w: +r.getAttribute('width'), h: +r.getAttribute('height')};
            nodes.forEach(n => {
                const inside = n.id.startsWith(g.dataset.group + '.');
                const within = box.x <= n.x && n.x + n.w <= box.x + box.w
                    && box.y <= n.y && n.y + n.h <= box.y + box.h;
                if (inside !== within && (inside || hit(box, n))) {
                    problems.push('box ' + g.dataset.group + ' ' + n.id);
                }
            });
        });
        return problems;
    }""")


@pytest.mark.slow
def test_groups_open_and_close_in_the_page(
    graph_server: str, signed_in: Callable[[], Page]
) -> None:
    page = _open_graph(signed_in, graph_server, "nested")
    assert _drawn(page)["nodes"] == {
        "start": ["task", "success"],
        "outer": ["group", "success"],
        "side": ["group", "success"],
        "end": ["task", "success"],
    }
    page.locator('g.gnode[data-node="outer"] a').click()
    expect(page.locator('g.box[data-group="outer"]')).to_have_count(1)
    assert set(_drawn(page)["nodes"]) == {"start", "outer.inner", "outer.c", "side", "end"}
    assert "expanded=outer" in page.url
    page.locator('g.gnode[data-node="outer.inner"] a').click()
    expect(page.locator('g.gnode[data-node="outer.inner.a"]')).to_have_attribute(
        "data-state", "success"
    )
    assert _drawn(page)["boxes"] == ["outer", "outer.inner"]
    assert _geometry_problems(page) == []
    page.reload()  # the open groups are kept in the address
    expect(page.locator('g.box[data-group="outer.inner"]')).to_have_count(1)
    page.locator('g.box[data-group="outer"] a').click()  # closing a group closes the ones inside
    expect(page.locator("g.box")).to_have_count(0)
    assert set(_drawn(page)["nodes"]) == {"start", "outer", "side", "end"}
    assert "expanded" not in page.url
    page.click("#graph-expand-all")
    expect(page.locator("g.box")).to_have_count(3)
    drawn = _drawn(page)
    assert {node for node, (kind, _) in drawn["nodes"].items() if kind == "task"} == {
        "start",
        "outer.inner.a",
        "outer.inner.b",
        "outer.c",
        "side.d",
        "end",
    }
    assert len(drawn["edges"]) == 7 and _geometry_problems(page) == []
    headless.shot(page, "graph_groups_open")
    page.click("#graph-collapse-all")
    expect(page.locator("g.box")).to_have_count(0)
    page.close()


@pytest.mark.slow
def test_a_cycle_made_by_closing_a_group_is_drawn(
    graph_server: str, signed_in: Callable[[], Page]
) -> None:
    page = _open_graph(signed_in, graph_server, "loop")
    drawn = _drawn(page)
    assert drawn["nodes"] == {"g": ["group", "success"], "b": ["task", "success"]}
    assert sorted(drawn["edges"]) == [["b", "g"], ["g", "b"]]
    page.locator('g.gnode[data-node="g"] a').click()
    expect(page.locator('g.gnode[data-node="g.c"]')).to_have_count(1)
    assert (
        sorted(_drawn(page)["edges"]) == [["b", "g.c"], ["g.a", "b"]]
        and _geometry_problems(page) == []
    )
    page.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", big_dags.SHAPES)
def test_a_5000_task_graph_loads_little_and_draws_what_is_in_view(
    graph_server: str, signed_in: Callable[[], Page], kind: str
) -> None:
    page = signed_in()
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))
    page.goto(f"{graph_server}/dags/{kind}_{BIG}/graph?run_id={RUN}")
    expect(page.locator("#graph")).to_have_attribute("data-ready", "true")
    sent = {
        request.url: request.sizes()["responseBodySize"]
        for request in finished
        if "/static/" not in request.url
    }
    assert sum(sent.values()) < BYTES_PER_TASK * BIG, sent
    first = "step_00000" if kind == "chain" else "start"
    expect(page.locator(f'g.gnode[data-node="{first}"]')).to_have_attribute("data-state", "success")
    expect(page.locator(f'g.gnode[data-node="{first}"]')).to_be_in_viewport()
    drawn = page.locator("#graph g.gnode").count()
    assert 0 < drawn < 400, drawn  # only what is near the view is in the page
    assert _geometry_problems(page) == []
    headless.shot(page, f"graph_{kind}_{BIG}")
    print(
        f"{kind}_{BIG}: drawn {page.locator('#graph').get_attribute('data-drawn-ms')} ms after "
        f"navigation, {sum(sent.values())} bytes: {sent}"
    )

    page.click('[data-zoom="fit"]')  # the whole graph, each node a coloured box
    visible = BIG if kind != "nested" else 51
    expect(page.locator("#graph g.gnode.far")).to_have_count(visible)
    headless.shot(page, f"graph_{kind}_{BIG}_fit")

    target = {"chain": "step_04321", "fan": "worker_03210", "nested": "region_040.stage_2.part_07"}[
        kind
    ]
    page.fill("#graph-find-input", target)
    page.press("#graph-find-input", "Enter")
    found = page.locator(f'g.gnode.found[data-node="{target}"]')
    expect(found).to_be_in_viewport()
    if kind == "nested":  # finding a task opens the groups around it
        expect(page.locator('g.box[data-group="region_040.stage_2"]')).to_have_count(1)
        headless.shot(page, f"graph_{kind}_{BIG}_found")
    found.locator("a").click()
    page.wait_for_url(f"**/runs/{RUN_ID}/tasks/{target}")
    page.close()


@pytest.mark.slow
def test_dragging_pans_and_the_wheel_zooms(
    graph_server: str, signed_in: Callable[[], Page]
) -> None:
    page = _open_graph(signed_in, graph_server, f"chain_{BIG}")
    box = page.locator("#graph").bounding_box()
    assert box is not None
    later = page.locator('g.gnode[data-node="step_00030"]')
    expect(later).to_have_count(0)  # far outside the view: not in the page
    start = page.locator('g.gnode[data-node="step_00001"]').bounding_box()
    assert start is not None
    page.mouse.move(
        start["x"] + 20, start["y"] + 10
    )  # a drag that starts on a task pans, not opens it
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(start["x"] + 20 - 300 * step, start["y"] + 10, steps=2)
    page.mouse.up()
    expect(later).to_be_in_viewport()
    assert "/graph" in page.url
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(8):
        page.mouse.wheel(0, 400)
    expect(page.locator("#graph g.gnode.far").first).to_be_visible()  # far out: boxes without text
    assert page.locator("#graph g.gnode").count() > 30
    page.close()


@pytest.mark.slow
def test_states_follow_the_run_while_it_runs(
    graph_home: dict[str, str], graph_server: str, signed_in: Callable[[], Page]
) -> None:
    page = _open_graph(signed_in, graph_server, f"chain_{BIG}")
    node = page.locator('g.gnode[data-node="step_00001"]')
    expect(node).to_have_attribute("data-state", "success")

    def fail(session: Session) -> None:
        session.execute(
            update(TaskInstance)
            .where(TaskInstance.dag_id == f"chain_{BIG}", TaskInstance.task_id == "step_00001")
            .values(state="failed")
        )

    db_admin.run(config.load(graph_home), fail)
    expect(node).to_have_attribute("data-state", "failed", timeout=10_000)
    page.close()


@pytest.mark.slow
def test_opening_every_group_of_5000_tasks(
    graph_server: str, signed_in: Callable[[], Page]
) -> None:
    page = _open_graph(signed_in, graph_server, f"nested_{BIG}")
    page.click("#graph-expand-all")
    expect(page.locator('g.gnode[data-node="start"]')).to_be_in_viewport()
    expect(page.locator("g.gnode.kind-group")).to_have_count(0)
    assert page.locator("g.box").count() > 0
    assert _geometry_problems(page) == []
    headless.shot(page, f"graph_nested_{BIG}_open")
    page.click('[data-zoom="fit"]')
    expect(page.locator("#graph g.gnode.far")).to_have_count(4902)
    headless.shot(page, f"graph_nested_{BIG}_open_fit")
    page.close()
