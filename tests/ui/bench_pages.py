"""Benchmark of the UI pages with a big history (a script, not a test; pytest does not collect it).

Builds a metastore with 1,000 DAGs (20 runs each) and one DAG with 10,000 runs of 12 task
instances, then times the DAG list and the grid (last 25 runs) through the ASGI app, in
process, so only server time is measured.

    .venv/bin/python tests/ui/bench_pages.py                      # SQLite in a temp dir
    .venv/bin/python tests/ui/bench_pages.py --db postgresql://postgres@127.0.0.1:5432/tw_bench
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from tradewind import DAG, EmptyOperator, TaskGroup, config, serialization, task
from tradewind.api.app import create_app
from tradewind.dag_processing.file_parsing import ParsedFile
from tradewind.dag_processing.store import store_files
from tradewind.db import engine as db_engine
from tradewind.db import migrate as db_migrate
from tradewind.db.models import DagRun, TaskInstance
from tradewind.services import users

DAGS = 1000
RUNS_PER_DAG = 20
BIG_RUNS = 10_000
START = datetime(2020, 1, 1, tzinfo=UTC)
#: The big DAG's runs are hourly and end now, so the calendar's year holds ~8,700 of them.
BIG_START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=BIG_RUNS)


def small_dag(index: int) -> DAG:
    with DAG(
        f"dag_{index:04d}",
        schedule="@daily",
        start_date=datetime(2024, 1, 1),
        tags=[f"team{index % 7}", "bench"],
    ) as dag:
        first = EmptyOperator(task_id="start")
        middle = [EmptyOperator(task_id=f"step_{n}") for n in range(3)]
        last = EmptyOperator(task_id="end")
        first >> middle >> last
    return dag


def big_dag() -> DAG:
    with DAG(
        "big_history", schedule="@hourly", start_date=datetime(2020, 1, 1), tags=["bench"]
    ) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("extract"):
            sources = [EmptyOperator(task_id=f"source_{n}") for n in range(4)]
        with TaskGroup("transform"):
            clean = EmptyOperator(task_id="clean")
            join = EmptyOperator(task_id="join")
            clean >> join

        @task
        def fan_out(item: int) -> int:
            return item

        mapped = fan_out.expand(item=[1, 2, 3])
        report = EmptyOperator(task_id="report")
        end = EmptyOperator(task_id="end")
        start >> sources >> clean
        join >> mapped >> report >> end
    return dag


def build(url: str, home: Path) -> None:
    engine = db_engine.create_engine(url)
    db_migrate.reset(engine)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with db_engine.session_scope(engine) as session:
        parsed = []
        sources = {}
        for index in range(DAGS - 1):
            dag = small_dag(index)
            path = home / "dags" / f"dag_{index:04d}.py"
            parsed.append(ParsedFile(path, {dag.dag_id: serialization.dumps(dag)}, []))
            sources[path] = f"# dag {index}\n"
        dag = big_dag()
        path = home / "dags" / "big_history.py"
        parsed.append(ParsedFile(path, {dag.dag_id: serialization.dumps(dag)}, []))
        sources[path] = "# big\n"
        store_files(
            session, parsed, sources, paused_by_default=False, now=now, is_live=lambda _: True
        )
        users.create_user(session, username="admin", password="admin", role="Admin")
    with engine.connect() as conn:
        version_ids = dict(conn.execute(text("SELECT dag_id, latest_version_id FROM dag")).all())
    print(f"stored {DAGS} DAGs in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    states = ["success"] * 8 + ["failed", "running"]
    with engine.begin() as conn:
        rows = []
        for index in range(DAGS - 1):
            dag_id = f"dag_{index:04d}"
            for n in range(RUNS_PER_DAG):
                when = START + timedelta(days=n)
                rows.append(
                    dict(
                        dag_id=dag_id,
                        run_id=f"scheduled__{when.isoformat()}",
                        logical_date=when,
                        data_interval_start=when,
                        data_interval_end=when + timedelta(days=1),
                        run_after=when,
                        run_type="scheduled",
                        state=states[n % 10],
                        conf={},
                        dag_version_id=version_ids[dag_id],
                        start_date=when,
                        end_date=when + timedelta(minutes=n),
                        clear_number=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
        conn.execute(insert(DagRun), rows)
        task_ids = [
            "start",
            *(f"extract.source_{n}" for n in range(4)),
            "transform.clean",
            "transform.join",
            "report",
            "end",
        ]
        for chunk in range(0, BIG_RUNS, 1000):
            runs = []
            tis = []
            for n in range(chunk, chunk + 1000):
                when = BIG_START + timedelta(hours=n)
                run_id = f"scheduled__{when.isoformat()}"
                state = states[n % 10]
                runs.append(
                    dict(
                        dag_id="big_history",
                        run_id=run_id,
                        logical_date=when,
                        data_interval_start=when,
                        data_interval_end=when + timedelta(hours=1),
                        run_after=when,
                        run_type="scheduled",
                        state=state,
                        conf={},
                        dag_version_id=version_ids["big_history"],
                        start_date=when,
                        end_date=when + timedelta(seconds=30 + n % 60),
                        clear_number=0,
                        created_at=now,
                        updated_at=now,
                    )
                )
                for task_id in task_ids:
                    tis.append(
                        dict(
                            dag_id="big_history",
                            run_id=run_id,
                            task_id=task_id,
                            map_index=-1,
                            try_number=1,
                            max_tries=0,
                            state=state,
                            pool="default_pool",
                            pool_slots=1,
                            priority_weight=1,
                            queue="default",
                            operator="EmptyOperator",
                            start_date=when,
                            end_date=when + timedelta(seconds=5),
                            duration=5.0,
                            updated_at=now,
                        )
                    )
                for index in range(3):
                    tis.append(
                        dict(
                            dag_id="big_history",
                            run_id=run_id,
                            task_id="fan_out",
                            map_index=index,
                            try_number=1,
                            max_tries=0,
                            state=state,
                            pool="default_pool",
                            pool_slots=1,
                            priority_weight=1,
                            queue="default",
                            operator="@task",
                            start_date=when,
                            end_date=when + timedelta(seconds=5),
                            duration=5.0,
                            updated_at=now,
                        )
                    )
            conn.execute(insert(DagRun), runs)
            conn.execute(insert(TaskInstance), tis)
    print(
        f"inserted {(DAGS - 1) * RUNS_PER_DAG + BIG_RUNS} runs and {BIG_RUNS * 12} task instances "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    if engine.url.get_backend_name() == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def measure(client: TestClient, path: str, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return times[0], statistics.median(times[1:] or times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--home", help="keep the metastore in this folder (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="use the metastore already in --home")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(args.home or tmp)
        home.mkdir(parents=True, exist_ok=True)
        url = args.db or f"sqlite:///{home / 'tradewind.db'}"
        if not args.reuse:
            build(url, home)
        settings = config.load({"TRADEWIND_HOME": str(home), "TRADEWIND__DATABASE__URL": url})
        app = create_app(settings)
        with TestClient(app) as client:
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            client.post(
                "/login", data={"username": "admin", "password": "admin", "csrf_token": token}
            )
            with app.state.engine.connect() as conn:
                last = conn.execute(
                    text(
                        "SELECT run_id FROM dag_run WHERE dag_id = 'big_history' "
                        "ORDER BY run_after DESC LIMIT 1"
                    )
                ).scalar_one()
            run_id = quote(last, safe="")
            pages = [
                ("DAG list, 50 per page", "/dags"),
                ("DAG list, all 1,000 DAGs on one page", "/dags?page_size=1000"),
                ("DAG list, search + tag filter", "/dags?q=dag_01&tags=team3"),
                ("grid, last 25 of 10,000 runs", "/dags/big_history"),
                ("grid.json (the 1.5 s poll)", "/dags/big_history/grid.json?limit=25"),
                ("graph of a run", f"/dags/big_history/graph?run_id={run_id}"),
                ("run states.json (graph poll)", f"/dags/big_history/runs/{run_id}/states.json"),
                ("run page", f"/dags/big_history/runs/{run_id}"),
                ("gantt", f"/dags/big_history/gantt?run_id={run_id}"),
                ("calendar (a year of 10,000 runs)", "/dags/big_history/calendar"),
                ("task instance page", f"/dags/big_history/runs/{run_id}/tasks/report"),
            ]
            print(f"\n{'page':45} {'first ms':>9} {'median ms':>10}")
            for label, path in pages:
                first, median = measure(client, path, args.repeat)
                print(f"{label:45} {first:9.1f} {median:10.1f}")
        app.state.engine.dispose()


if __name__ == "__main__":
    main()
