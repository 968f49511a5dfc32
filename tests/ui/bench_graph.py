"""Benchmark of the graph page for large DAGs (a script, not a test; pytest does not collect it).

Stores DAGs of 100, 1,000 and 5,000 tasks in three shapes (``big_dags``), one run each with
every task instance in a state, and fetches each graph page through the ASGI app in process,
so only server time is measured: first request (the DAG version not yet cached) and the
median of the next ones, and the bytes the page needs: the HTML plus what its script loads
at once (the structure and the run's states), as sent (gzip-compressed where the server
compresses).

With ``--browser``, the same pages are also opened in headless Chromium against a real
``tradewind api-server``: the time from navigation until the graph is drawn.

    .venv/bin/python tests/ui/bench_graph.py
    .venv/bin/python tests/ui/bench_graph.py --browser
    .venv/bin/python tests/ui/bench_graph.py --db postgresql://postgres@127.0.0.1:5432/tw_bench
"""

from __future__ import annotations

import argparse
import html
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.ui import big_dags, headless  # noqa: E402
from tests.ui.big_dags import RUN_ID, SHAPES, big_dag  # noqa: E402
from tradewind import config  # noqa: E402
from tradewind.api.app import create_app  # noqa: E402
from tradewind.db import engine as db_engine  # noqa: E402
from tradewind.db import migrate as db_migrate  # noqa: E402
from tradewind.services import users  # noqa: E402

SIZES = (100, 1000, 5000)


def build(url: str, home: Path) -> list[str]:
    engine = db_engine.create_engine(url)
    db_migrate.reset(engine)
    dag_ids = []
    with db_engine.session_scope(engine) as session:
        users.create_user(session, username="admin", password="admin", role="Admin")
        for kind in SHAPES:
            for size in SIZES:
                dag = big_dag(kind, size)
                big_dags.store_with_run(session, dag, home)
                dag_ids.append(dag.dag_id)
    engine.dispose()
    return dag_ids


def fetch_page(client: TestClient, dag_id: str) -> tuple[float, int]:
    """Server time (ms) and bytes of the graph page and of the data its script loads at once."""
    started = time.perf_counter()
    response = client.get(f"/dags/{dag_id}/graph?run_id={quote(RUN_ID, safe='')}")
    assert response.status_code == 200, (dag_id, response.status_code, response.text[:300])
    size = len(response.content)
    for attribute in ("data-graph", "data-states"):
        found = re.search(rf'{attribute}="([^"]+)"', response.text)
        if found:
            extra = client.get(html.unescape(found.group(1)), headers={"Accept-Encoding": "gzip"})
            assert extra.status_code == 200, (dag_id, attribute, extra.status_code)
            size += int(extra.headers.get("content-length", len(extra.content)))
    return (time.perf_counter() - started) * 1000, size


def browser_times(url: str, home: Path, dag_ids: list[str], repeat: int) -> None:
    """Milliseconds from navigation to the drawn graph, in Chromium, first view and median."""
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "TRADEWIND_HOME": str(home), "TRADEWIND__DATABASE__URL": url}
    port = headless.free_port()
    base = f"http://127.0.0.1:{port}"
    api = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tradewind"),
            "api-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        headless.wait_for(f"{base}/api/v2/monitor/health", time.monotonic() + 30, api)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=headless.chromium_path(), args=headless.CHROMIUM_ARGS
            )
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.goto(base + "/login")
            page.fill("#username", "admin")
            page.fill("#password", "admin")
            page.click("button[type=submit]")
            page.wait_for_selector("#dag-table")
            print(
                f"\n{'DAG':14} {'first ms':>9} {'median ms':>10}   (navigation to drawn graph, "
                "Chromium)"
            )
            for dag_id in dag_ids:
                times = []
                for _ in range(repeat + 1):
                    page.goto(
                        f"{base}/dags/{dag_id}/graph?run_id={quote(RUN_ID, safe='')}",
                        timeout=120_000,
                    )
                    ready = page.locator("#graph[data-ready=true]")
                    if ready.count() == 0 and page.locator("#graph[data-graph]").count():
                        ready.wait_for(timeout=120_000)
                    times.append(
                        page.evaluate(
                            "() => Number(document.getElementById('graph').dataset.drawnMs) || "
                            "performance.getEntriesByType('navigation')[0].loadEventEnd"
                        )
                    )
                print(f"{dag_id:14} {times[0]:9.0f} {statistics.median(times[1:]):10.0f}")
            browser.close()
    finally:
        headless.stop(api)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--browser", action="store_true", help="also time the pages in headless Chromium"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        url = args.db or f"sqlite:///{home / 'tradewind.db'}"
        dag_ids = build(url, home)
        app = create_app(
            config.load({"TRADEWIND_HOME": str(home), "TRADEWIND__DATABASE__URL": url})
        )
        with TestClient(app) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            client.post(
                "/login", data={"username": "admin", "password": "admin", "csrf_token": token}
            )
            print(
                f"{'DAG':14} {'first ms':>9} {'median ms':>10} {'bytes':>10}   (server, in process)"
            )
            for dag_id in dag_ids:
                first, size = fetch_page(client, dag_id)
                times = [fetch_page(client, dag_id)[0] for _ in range(args.repeat)]
                print(f"{dag_id:14} {first:9.0f} {statistics.median(times):10.0f} {size:10,d}")
        app.state.engine.dispose()
        if args.browser:
            browser_times(url, home, dag_ids, max(2, args.repeat // 2))


if __name__ == "__main__":
    main()
