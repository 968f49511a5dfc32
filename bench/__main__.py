"""``python -m bench``: run the suite, write ``bench/results/latest.{json,md}`` and the plot.

Exit code 0 when every selected figure was measured (targets missed or not), 1 when some
workload failed (the outputs are written anyway and say which), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    active_runs,
    airflow_celery,
    airflow_side,
    celery_report,
    celery_side,
    cli_speed,
    history,
    many_dags,
    peer_side,
    report,
    startup,
    workloads,
)
from bench.figures import FigureSet
from bench.metastore import POSTGRES_DATABASE, BenchDatabase
from bench.plot import plot_start_delays

RESULTS = Path(__file__).resolve().parent / "results"
CELERY_SIDES = ("tradewind", "airflow")
ALL = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "startup", "cli")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="metastore: a SQLite file per fresh home (default), or PostgreSQL database tw_bench",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server to create tw_bench on (with --db postgres)",
    )
    parser.add_argument(
        "--postgres-database",
        default=POSTGRES_DATABASE,
        help=(
            f"with --db postgres: the database made afresh for each workload (default "
            f"{POSTGRES_DATABASE}; a bench run at the same time needs another)"
        ),
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per figure (default 3)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help=(
            "unmeasured runs of W1-W4 before the repetitions (default 1; W1's is reported as "
            "W1.cold)"
        ),
    )
    parser.add_argument(
        "--only",
        default=",".join(ALL),
        help=f"comma-separated subset of {','.join(ALL)} (the baseline always runs)",
    )
    parser.add_argument(
        "--airflow", action="store_true", help="also run W1-W4 on Apache Airflow standalone"
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run W1-W3 on Prefect 3 and Dagster (each in its own venv under bench/.peers)",
    )
    parser.add_argument(
        "--peer-variants",
        default=",".join(variant.key for variant in peer_side.VARIANTS),
        help="with --peers: comma-separated subset of the peer variants (default all of them)",
    )
    parser.add_argument(
        "--celery",
        nargs="?",
        const="tradewind",
        default=None,
        metavar="SIDES",
        help=(
            "also run W1 and W2 through the celery executor with --celery-workers workers "
            "(needs --db postgres and Redis): 'tradewind' (without a value), 'airflow' (Airflow's "
            "CeleryExecutor, installed into bench/.airflow on first use) or 'tradewind,airflow'"
        ),
    )
    parser.add_argument(
        "--celery-workers",
        default=",".join(str(n) for n in celery_side.WORKER_COUNTS),
        help="with --celery: comma-separated worker counts, a deployment each (default 1,2,4)",
    )
    parser.add_argument(
        "--celery-slots",
        type=int,
        default=celery_side.SLOTS,
        help=(
            f"with --celery: slots the workers share evenly, each one's --concurrency being "
            f"slots ÷ workers (default {celery_side.SLOTS}, one DAG's max_active_tasks)"
        ),
    )
    parser.add_argument(
        "--celery-broker",
        default=celery_side.BROKER_URL,
        help=f"with --celery: the broker (default {celery_side.BROKER_URL})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "reduced sizes (W2 20 tasks, W3 10, W4 5 runs, W5 20 files, W8 20 DAGs × 20 runs, "
            "W9 5 and 25 runs, baseline 20) for smoke tests"
        ),
    )
    parser.add_argument(
        "--w7-dags", type=int, default=None, help="W7: number of DAG files (default 1000)"
    )
    parser.add_argument(
        "--w7-minutes", type=float, default=None, help="W7: minutes measured (default 5)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help=f"results folder (default {RESULTS})"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch homes and logs")
    args = parser.parse_args(argv)
    args.selected = [item.strip() for item in args.only.split(",") if item.strip()]
    unknown = sorted(set(args.selected) - set(ALL))
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)} (choose from {', '.join(ALL)})")
    args.variants = [item.strip() for item in args.peer_variants.split(",") if item.strip()]
    unknown = sorted(set(args.variants) - {variant.key for variant in peer_side.VARIANTS})
    if unknown:
        parser.error(f"--peer-variants: unknown {', '.join(unknown)}")
    args.celery_sides = [item.strip() for item in (args.celery or "").split(",") if item.strip()]
    unknown = sorted(set(args.celery_sides) - set(CELERY_SIDES))
    if unknown:
        parser.error(f"--celery: unknown {', '.join(unknown)} (choose from tradewind, airflow)")
    if args.celery_sides and args.db != "postgres":
        parser.error(
            "--celery needs --db postgres (the deployment's processes share its metastore)"
        )
    try:
        args.celery_counts = tuple(
            int(item) for item in args.celery_workers.split(",") if item.strip()
        )
    except ValueError:
        args.celery_counts = ()
    if not args.celery_counts or min(args.celery_counts) < 1:
        parser.error("--celery-workers: comma-separated counts of 1 or more")
    if args.celery_slots < 1:
        parser.error("--celery-slots must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return args


def log(message: str) -> None:
    print(
        f"[bench {dt.datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    db = BenchDatabase(args.db, args.postgres_url, args.postgres_database)
    ctx = workloads.Context(
        repeat=args.repeat,
        warmup=args.warmup,
        quick=args.quick,
        sizes=workloads.Sizes.quick() if args.quick else workloads.Sizes(),
        db=db,
        work=work,
        log=log,
    )
    figures = FigureSet()
    airflow_figures: FigureSet | None = None
    airflow_facts: dict | None = None
    peers: list[peer_side.PeerResult] | None = None
    celery: list[celery_side.CeleryResult] = []
    plan = celery_side.CeleryPlan(args.celery_counts, args.celery_slots, args.celery_broker)
    log(f"scratch folder {work}; metastore {args.db}; {args.repeat} repetition(s)")
    try:
        startup.byte_compile(ctx)
        startup.run_baseline(ctx, figures)
        run_specs = workloads.run_workloads(ctx.sizes)
        for spec in run_specs:
            if spec.key in args.selected:
                workloads.run_tradewind(ctx, spec, figures)
        if "W5" in args.selected:
            workloads.run_parse(ctx, figures)
        if "W6" in args.selected:
            workloads.run_dags_test(ctx, figures)
        if "W8" in args.selected:
            history.run_history(ctx, figures)
        if "W9" in args.selected:
            active_runs.run_active_runs(ctx, figures)
        if "startup" in args.selected:
            startup.run_standalone_startup(ctx, figures)
            startup.run_import(ctx, figures)
            if args.quick:
                ctx.notes.append("quick mode: package count skipped")
            else:
                startup.count_installed(ctx, figures)
        if "cli" in args.selected:
            cli_speed.run_cli(ctx, figures)
        w7 = many_dags.ManyDags.quick() if args.quick else many_dags.ManyDags()
        w7 = many_dags.ManyDags(args.w7_dags or w7.dags, args.w7_minutes or w7.minutes)
        if "W7" in args.selected:
            many_dags.run_tradewind(ctx, w7, figures)
        through_celery = [
            spec
            for spec in run_specs
            if spec.key in args.selected and spec.key in celery_side.WORKLOADS
        ]
        if args.celery_sides and not through_celery:
            ctx.notes.append("--celery: neither W1 nor W2 selected, nothing ran through Celery")
        if through_celery and "tradewind" in args.celery_sides:
            celery += celery_side.run_tradewind(ctx, through_celery, plan)
        if through_celery and "airflow" in args.celery_sides:
            celery += airflow_celery.run_airflow(ctx, through_celery, plan)
        if args.airflow:
            airflow_figures = FigureSet()
            selected = [spec for spec in run_specs if spec.key in args.selected]
            airflow_facts = airflow_side.run_airflow(ctx, selected, airflow_figures)
            if "W7" in args.selected:
                many_dags.run_airflow(ctx, w7, airflow_figures)
        if args.peers:
            peers = peer_side.run_peers(
                ctx, [spec for spec in run_specs if spec.key in args.selected], args.variants
            )
    finally:
        db.drop()
    ctx.notes[:0] = [
        "Trigger → done: the run's end_date (recorded by the scheduler) minus the wall-clock "
        "instant just before the trigger call; hop: a task's start_date minus its upstream's "
        "end_date, all from the metastore.",
        "Tradewind W1-W4: one fresh $TRADEWIND_HOME and `tradewind standalone` per workload, "
        "repetitions are successive runs on it; triggered in-process through "
        "tradewind.services.dag_runs.trigger plus the scheduler wake-up (what the CLI/API trigger "
        "does, minus process start or HTTP).",
        "Rates count every task instance of the run (W2: 200 + start + end) over trigger → done.",
        f"W1-W4 on both sides: {args.warmup} unmeasured warm-up run(s) of each workload before its "
        "repetitions (a DAG version's first run starts processes and fills caches); W1's first run "
        "is its own line (W1.cold).",
    ]
    meta = {
        "started": report.now_iso(),
        "duration_s": time.monotonic() - started,
        "db": args.db,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "quick": args.quick,
        "only": args.selected,
        "airflow": args.airflow,
        "peers": args.variants if args.peers else False,
        "celery": {
            "sides": args.celery_sides,
            "workers": list(plan.worker_counts),
            "slots": plan.slots,
            "broker": plan.broker_url,
        }
        if args.celery_sides
        else False,
        "git": report.git_revision(RESULTS.parent.parent),
        "machine": report.machine(),
        "sizes": dataclasses.asdict(ctx.sizes),
        "command": "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv),
    }
    # Each kind of run keeps its own results: a celery run must not replace the PostgreSQL
    # figures of other workloads (W7 against Airflow), nor those the SQLite default's.
    suffix = "-celery" if args.celery_sides else ("" if args.db == "sqlite" else f"-{args.db}")
    stem = f"latest{suffix}"
    plot = plot_start_delays(ctx.raw, args.out / f"start_delays{suffix}.png")
    if plot is None and any(key in args.selected for key in ("W1", "W2")):
        ctx.notes.append("plot skipped: matplotlib is not installed (make bench installs it)")
    data = report.results_json(
        meta, figures, airflow_figures, airflow_facts, ctx.raw, ctx.notes, peers
    )
    data["celery"] = [result.to_json() for result in celery] if args.celery_sides else None
    data["ok"] = data["ok"] and all(r.ok for r in celery if r.orchestrator == "tradewind")
    report.write_json(args.out / f"{stem}.json", data)
    report.write_json(
        args.out / f"run-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{args.db}.json", data
    )
    markdown = report.markdown(
        meta,
        figures,
        airflow_figures,
        airflow_facts,
        ctx.notes,
        plot,
        peers,
        celery_report.section(figures, celery, meta["celery"] or {}),
    )
    (args.out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    log(f"wrote {args.out / (stem + '.md')} and {stem}.json")
    if args.keep or not data["ok"]:
        log(f"scratch homes and logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
