"""The same W1 and W2 on Airflow's CeleryExecutor, with the worker counts of ``celery_side``.

Airflow's own venv (``airflow_side``) gets the Celery provider (pinned, with Airflow pinned in
the same install) and its PostgreSQL drivers. Each worker count is a deployment as Airflow's
docs describe one: ``airflow db migrate``, then ``airflow api-server``, ``airflow scheduler``,
``airflow dag-processor`` and N ``airflow celery worker`` processes, on a fresh PostgreSQL
database and the same Redis as Tradewind's workers (a queue of its own). Settings changed from
Airflow's defaults: the executor, the database, the broker and queue, the ports (the API
server's, the execution API URL following it, and one log-server port per worker: they share
a host), and one shared token key (``[api_auth] jwt_secret``: processes started apart would
each draw their own). Worker ``--concurrency`` is the same as Tradewind's workers get.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from bench import airflow_side, procs
from bench.celery_side import (
    WORKER_READY,
    CeleryPlan,
    CeleryResult,
    fail_figures,
    forget_queue,
    measure_deployment,
)
from bench.deployment import Deployment
from bench.figures import BenchError
from bench.runs import DagRunner
from bench.workloads import Context, RunWorkload

#: The Celery provider, and Celery itself: the provider imports a name (``retry`` of
#: ``celery.backends.database``) that Celery 5.7 no longer has, so the newest 5.6 is pinned
#: (Airflow's constraint files would pin it too; they are not a package registry's).
PINNED = {"apache-airflow-providers-celery": "3.26.0", "celery": "5.6.3"}
HOME = airflow_side.ROOT / "celery-home"
LOGS = airflow_side.ROOT / "celery-logs"
SETTINGS = [
    ("core", "executor"),
    ("core", "parallelism"),
    ("core", "max_active_tasks_per_dag"),
    ("celery", "worker_concurrency"),
    ("celery", "worker_prefetch_multiplier"),
    ("api", "workers"),
    ("scheduler", "scheduler_heartbeat_sec"),
]


def ensure_installed(log: Callable[[str], None]) -> None:
    """Airflow, its PostgreSQL drivers and its Celery provider, each on first use."""
    airflow_side.ensure_installed(log)
    airflow_side.ensure_postgres_driver(log)
    airflow_side.ensure_pinned(log, PINNED)


class AirflowCelery(airflow_side.AirflowStandalone):
    """Airflow's components as separate processes, with N Celery workers; the REST client
    and waits are ``AirflowStandalone``'s."""

    def __init__(self, plan: CeleryPlan, workers: int, database_url: str) -> None:
        super().__init__(HOME)
        self.plan = plan
        self.workers = workers
        self.database_url = database_url
        self.queue = f"bench-airflow-{secrets.token_hex(5)}"
        self.deployment = Deployment(LOGS / f"{workers}w")
        self.log_path = self.deployment.log_folder

    def start(
        self, write_dags: Callable[[Path], None], extra_env: dict[str, str] | None = None
    ) -> None:
        concurrency = str(self.plan.concurrency(self.workers))
        self.env = self.prepare(
            write_dags,
            {
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
                "AIRFLOW__CELERY__BROKER_URL": self.plan.broker_url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": concurrency,
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
                **(extra_env or {}),
            },
        )
        shutil.rmtree(self.deployment.log_folder, ignore_errors=True)
        self.started = time.monotonic()
        airflow = str(airflow_side.VENV / "bin" / "airflow")
        procs.run_checked(
            [airflow, "db", "migrate"], env=self.env, timeout=600, what="airflow db migrate"
        )
        start = self.deployment.start
        start(
            "api-server", [airflow, "api-server", "--port", str(self.port)], env=self.env, cwd=HOME
        )
        start("scheduler", [airflow, "scheduler"], env=self.env, cwd=HOME)
        start("dag-processor", [airflow, "dag-processor"], env=self.env, cwd=HOME)
        for number in range(1, self.workers + 1):
            env = {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(procs.free_port())}
            start(
                f"worker-{number}",
                [airflow, "celery", "worker", "--celery-hostname", f"w{number}@bench"]
                + ["--concurrency", concurrency, "--queues", self.queue],
                env=env,
                cwd=HOME,
            )

    def check_alive(self, what: str) -> None:
        self.deployment.check_alive(what)

    def stop(self) -> None:
        self.deployment.stop(grace=60.0)
        forget_queue(self.plan.broker_url, self.queue)


def run_airflow(ctx: Context, workloads: list[RunWorkload], plan: CeleryPlan) -> list[CeleryResult]:
    """Install what is missing, then each worker count in turn on a fresh deployment."""
    results = [
        CeleryResult("airflow", workers, plan.concurrency(workers))
        for workers in plan.worker_counts
    ]
    try:
        ensure_installed(ctx.log)
    except BenchError as exc:
        ctx.log(f"airflow celery: not installed: {exc}")
        for result in results:
            result.facts["error"] = f"not installed: {str(exc).splitlines()[0]}"
            for workload in workloads:
                fail_figures(result.figures, workload, result.facts["error"])
        return results
    for result in results:
        run_one(ctx, workloads, plan, result)
    return results


def run_one(
    ctx: Context, workloads: list[RunWorkload], plan: CeleryPlan, result: CeleryResult
) -> None:
    url = ctx.db.recreate(f"{ctx.db.name}_airflow_celery", "postgresql+psycopg2")
    server = AirflowCelery(plan, result.workers, url)
    result.facts["logs"] = str(server.deployment.log_folder)

    def ready() -> tuple[DagRunner, Deployment]:
        server.start(lambda folder: [w.dag.write(folder, "airflow") for w in workloads])
        server.wait_healthy()
        server.login()
        server.wait_dags({workload.dag.dag_id for workload in workloads})
        server.deployment.wait_for_lines(
            "worker-", WORKER_READY, airflow_side.READY_TIMEOUT, "airflow celery"
        )
        result.facts["settings"] = server.settings(SETTINGS)
        return airflow_side.AirflowRunner(server, ctx.log), server.deployment

    try:
        measure_deployment(ctx, result, workloads, ready, lambda w: w.airflow_timeout)
    finally:
        server.stop()
        result.facts["api_retries"] = server.retried
