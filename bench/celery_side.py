"""W1 and W2 through Tradewind's celery executor, with 1, 2 and 4 workers (``--celery``).

A deployment per worker count, the roles of ``deploy/docker-compose.yaml`` as plain processes: the
API server, the DAG processor, the scheduler with ``TRADEWIND__CORE__EXECUTOR=celery``, and
N ``tradewind celery worker`` processes, each on a home of its own with an empty DAG folder and
a bogus database URL (workers reach the metastore only through the API server). The metastore
is a fresh PostgreSQL database per deployment, the broker Redis, with a queue of its own per
deployment so that no other worker on the same Redis takes its tries.

Workers share ``slots`` (default 16) evenly: ``--concurrency`` is ``slots // workers``. 16 is
what one DAG may run at once (``max_active_tasks_per_dag``, 16 on Tradewind and Airflow alike)
and what one worker runs by default (``worker_concurrency``, 16 on both), so every worker count
offers W2 the same slots and the figures differ by what spreading them over workers costs.

Figures are the local executor's (``workloads``): the same DAGs, triggered, waited for and read
the same way, from the metastore.
"""

from __future__ import annotations

import dataclasses
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from bench import procs
from bench.dag_templates import DagFile
from bench.deployment import Deployment
from bench.figures import BenchError, FigureSet
from bench.harness import TRADEWIND, TradewindRunner, health_is_healthy, http_json, tradewind_env
from bench.metastore import BenchDatabase, MetastoreReader
from bench.runs import DagRunner
from bench.workloads import Context, RunWorkload, measure_workloads

#: The workloads run through Celery.
WORKLOADS = ("W1", "W2")
BROKER_URL = "redis://127.0.0.1:6379/12"
WORKER_COUNTS = (1, 2, 4)
SLOTS = 16
READY_TIMEOUT = 120.0
#: What a Celery worker writes once it consumes from its queues (``celery@host ready.``).
WORKER_READY = " ready."
#: What it writes for each message it takes (``Task <name>[<id>] received``).
RECEIVED = "] received"
#: The figures measured through Celery (W1's runs after a quiet minute and of a new DAG
#: version are the local executor's only).
FIGURES = ("W1.wall", "W1.hop_median", "W1.first_start", "W1.cold", "W2.wall", "W2.rate")


@dataclasses.dataclass(frozen=True)
class CeleryPlan:
    """How the deployments are made: worker counts, slots shared by the workers, broker."""

    worker_counts: tuple[int, ...] = WORKER_COUNTS
    slots: int = SLOTS
    broker_url: str = BROKER_URL

    def concurrency(self, workers: int) -> int:
        return max(1, self.slots // workers)


@dataclasses.dataclass
class CeleryResult:
    """One orchestrator's figures with one worker count, and what else was learnt there."""

    orchestrator: str
    workers: int
    concurrency: int
    figures: FigureSet = dataclasses.field(default_factory=FigureSet)
    #: ready_s (launch → every process ready), messages_per_worker, settings, logs, error.
    facts: dict[str, Any] = dataclasses.field(default_factory=dict)
    raw: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(len(self.figures)) and all(figure.ok for figure in self.figures)

    def keep(self, workload: str, data: dict[str, Any]) -> None:
        self.raw.setdefault(workload, []).append(data)

    def to_json(self) -> dict[str, Any]:
        return {
            "orchestrator": self.orchestrator,
            "workers": self.workers,
            "concurrency": self.concurrency,
            "figures": [figure.to_json() for figure in self.figures],
            "facts": self.facts,
            "raw": self.raw,
        }


def forget_queue(broker_url: str, queue: str) -> None:
    """Delete what the broker keeps of a deployment's queue (Kombu's bindings, messages left),
    so that runs do not pile keys up in Redis; best effort."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return  # RabbitMQ: its queues are left to it
    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=5)
        with client:
            keys = list(client.scan_iter(match=f"*{queue}*", count=1000))
            if keys:
                client.delete(*keys)
    except redis.RedisError:
        pass


def celery_environ(broker_url: str, queue: str, api_port: int) -> dict[str, str]:
    """The settings every process of a Tradewind celery deployment shares."""
    return {
        "TRADEWIND__CORE__EXECUTOR": "celery",
        "TRADEWIND__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
        "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "TRADEWIND__CELERY__BROKER_URL": broker_url,
        "TRADEWIND__CELERY__DEFAULT_QUEUE": queue,
    }


class TradewindCelery:
    """API server, DAG processor, scheduler and N workers on a fresh home and database."""

    def __init__(
        self,
        home: Path,
        db: BenchDatabase,
        plan: CeleryPlan,
        workers: int,
        dag_files: list[DagFile],
    ) -> None:
        self.home = home
        self.dags_folder = home / "dags"
        self.db = db
        self.plan = plan
        self.workers = workers
        self.dag_files = dag_files
        self.port = procs.free_port()
        self.queue = f"bench-{secrets.token_hex(5)}"
        self.deployment = Deployment(home / "logs")
        self.env: dict[str, str] = {}
        self.reader: MetastoreReader | None = None
        self.started = 0.0

    def start(self) -> None:
        shutil.rmtree(self.home, ignore_errors=True)
        for dag in self.dag_files:
            dag.write(self.dags_folder, "tradewind")
        self.env = tradewind_env(self.home, self.dags_folder, self.db, api_port=self.port)
        self.env.update(celery_environ(self.plan.broker_url, self.queue, self.port))
        self.env["TRADEWIND__API_AUTH__JWT_SECRET"] = secrets.token_hex(32)
        self.reader = MetastoreReader(self.env["TRADEWIND__DATABASE__URL"])
        self.started = time.monotonic()
        procs.run_checked(
            [TRADEWIND, "db", "migrate"], env=self.env, timeout=120, what="tradewind db migrate"
        )
        start = self.deployment.start
        start(
            "api-server",
            [TRADEWIND, "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            cwd=self.home,
        )
        start("dag-processor", [TRADEWIND, "dag-processor"], env=self.env, cwd=self.home)
        start("scheduler", [TRADEWIND, "scheduler"], env=self.env, cwd=self.home)
        concurrency = str(self.plan.concurrency(self.workers))
        for number in range(1, self.workers + 1):
            home = self.home / f"worker-{number}"
            (home / "empty-dags").mkdir(parents=True)
            start(
                f"worker-{number}",
                [TRADEWIND, "celery", "worker", "--hostname", f"w{number}@bench"]
                + ["--concurrency", concurrency],
                env=self.worker_env(home),
                cwd=home,
            )

    def worker_env(self, home: Path) -> dict[str, str]:
        """The server's settings less the token key, on a home of its own, with an empty DAG
        folder and a database URL that leads nowhere."""
        env = {k: v for k, v in self.env.items() if k != "TRADEWIND__API_AUTH__JWT_SECRET"}
        env["TRADEWIND_HOME"] = str(home)
        env["TRADEWIND__CORE__DAGS_FOLDER"] = str(home / "empty-dags")
        env["TRADEWIND__DATABASE__URL"] = "postgresql://nobody@bogus.invalid/none"
        return env

    def check_alive(self, what: str) -> None:
        self.deployment.check_alive(what)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        """Seconds from launch until the API server is healthy (metastore and scheduler), the
        DAGs are stored and every worker consumes."""
        assert self.reader is not None
        deadline = self.started + timeout
        expected = {dag.dag_id for dag in self.dag_files}
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"
        while True:
            self.check_alive("tradewind celery start-up")
            status, body = http_json(url, timeout=1.0)
            if (
                status == 200
                and health_is_healthy(body)
                and expected <= self.reader.active_dag_ids()
            ):
                break
            if time.monotonic() > deadline:
                raise BenchError(
                    f"tradewind celery: not ready after {timeout:g} s (health {status}: {body}; "
                    f"DAGs stored {sorted(self.reader.active_dag_ids())}); logs in "
                    f"{self.deployment.log_folder}"
                )
            time.sleep(0.05)
        self.deployment.wait_for_lines(
            "worker-", WORKER_READY, max(1.0, deadline - time.monotonic()), "tradewind celery"
        )
        return time.monotonic() - self.started

    def stop(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self.deployment.stop()
        forget_queue(self.plan.broker_url, self.queue)


def run_tradewind(
    ctx: Context, workloads: list[RunWorkload], plan: CeleryPlan
) -> list[CeleryResult]:
    """Each worker count in turn: a fresh deployment, then each workload's warm-up and
    repetitions on it."""
    results = []
    for workers in plan.worker_counts:
        results.append(CeleryResult("tradewind", workers, plan.concurrency(workers)))
        run_one(ctx, workloads, plan, results[-1])
    return results


def run_one(
    ctx: Context, workloads: list[RunWorkload], plan: CeleryPlan, result: CeleryResult
) -> None:
    home = ctx.work / f"celery-{result.workers}w-home"
    server = TradewindCelery(home, ctx.db, plan, result.workers, [w.dag for w in workloads])
    result.facts["logs"] = str(home / "logs")
    runners: list[TradewindRunner] = []

    def ready() -> tuple[DagRunner, Deployment]:
        server.start()
        server.wait_ready()
        runners.append(TradewindRunner(server))
        return runners[-1], server.deployment

    try:
        measure_deployment(ctx, result, workloads, ready, lambda w: w.timeout)
    finally:
        for runner in runners:
            runner.close()
        server.stop()


def fail_figures(figures: FigureSet, workload: RunWorkload, error: str) -> None:
    """Mark the workload's Celery figures as not measured, saying why."""
    for key, (label, unit, target) in workload.figures.items():
        if key in FIGURES:
            figures.fail(key, label, unit, error, target=target)


def measure_deployment(
    ctx: Context,
    result: CeleryResult,
    workloads: list[RunWorkload],
    ready: Callable[[], tuple[DagRunner, Deployment]],
    timeout_of: Callable[[RunWorkload], float],
) -> None:
    """Start the deployment (``ready`` returns once every process of it is ready) and run
    every workload on it; a deployment that does not start has all its figures failed. Then
    how the tries spread over the workers: the messages each one took, as its Celery log says
    (``Task ...[id] received``), warm-ups included. The caller stops the deployment."""
    name = f"{result.orchestrator} celery ×{result.workers}"
    started = time.monotonic()
    try:
        runner, deployment = ready()
    except BenchError as exc:
        ctx.log(f"{name} FAILED: {exc}")
        result.facts["error"] = str(exc).splitlines()[0]
        for workload in workloads:
            fail_figures(result.figures, workload, result.facts["error"])
        return
    result.facts["ready_s"] = time.monotonic() - started
    ctx.log(
        f"{name}: ready after {result.facts['ready_s']:.1f} s (concurrency "
        f"{result.concurrency} each)"
    )
    runner.name = name
    measure_workloads(ctx, runner, workloads, result.figures, timeout_of, result.keep, fail_figures)
    result.facts["messages_per_worker"] = deployment.count_lines(RECEIVED, "worker-")
