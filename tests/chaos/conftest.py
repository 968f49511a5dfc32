"""One chaos run per backend (``tests.chaos.driver`` in a process of its own), shared by the
tests of its invariants; the figures of every run are printed at the end of the session.

Environment:
    CHAOS_DURATION  seconds of kills per backend (default 25; ``make chaos``: 300)
    CHAOS_SEED      replay the kills and triggers of an earlier run (printed by every run)
    CHAOS_WORKDIR   keep the runs' files (DAGs, records, logs, evidence.json) in this folder
                    (otherwise they are kept in /tmp/tradewind-chaos-* only when an invariant failed)
    CHAOS_ADOPTION  1: a restarted scheduler adopts running tries, so no healthy try may fail
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos import invariants

ROOT = Path(__file__).resolve().parents[2]
DURATION = float(os.environ.get("CHAOS_DURATION") or 25)
SETTLE_TIMEOUT = 120.0
#: Longest a whole run may take: start-up, kills, settling, stop, and the machine being busy.
RUN_TIMEOUT = DURATION + SETTLE_TIMEOUT + 240
SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))

#: Invariants whose tests are marked xfail: their violations alone do not keep a run's files.
KNOWN_TO_FAIL = frozenset({"no_healthy_try_failed", "retries_honoured", "no_rerun_after_scheduler_death"})

_reports: list[dict[str, Any]] = []


def _run_driver(backend: str, workdir: Path, db_url: str | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.chaos.driver", "--backend", backend, "--workdir", str(workdir),
               "--seed", str(SEED), "--duration", str(DURATION), "--settle-timeout", str(SETTLE_TIMEOUT)]
    if db_url is not None:
        command += ["--db-url", db_url]
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "driver.log"
    with log_path.open("wb") as log:
        driver = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            driver.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            driver.send_signal(signal.SIGTERM)  # it kills what it started, then exits
            try:
                driver.wait(timeout=30)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()
            return {"backend": backend, "seed": SEED,
                    "error": f"the chaos run took longer than {RUN_TIMEOUT:.0f} s; see {log_path}"}
    try:
        report: dict[str, Any] = json.loads((workdir / "report.json").read_text())
    except (OSError, ValueError) as exc:
        return {"backend": backend, "seed": SEED,
                "error": f"no report ({exc}); the driver exited with {driver.returncode}; see {log_path}"}
    report.setdefault("workdir", str(workdir))
    return report


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def chaos_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    backend = str(request.param)
    keep = os.environ.get("CHAOS_WORKDIR")
    if keep:
        workdir = Path(keep) / f"{time.strftime('%Y%m%d-%H%M%S')}-{backend}"
    else:  # not under pytest's base folder: other sessions on the machine rotate it away
        workdir = Path(tempfile.mkdtemp(prefix=f"tradewind-chaos-{backend}-"))
    db_url = None
    server = None
    if backend == "postgres":
        server = request.getfixturevalue("postgres_server")
        db_url = server.create_database()
    try:
        report = _run_driver(backend, workdir, db_url)
    finally:
        if server is not None and db_url is not None:
            server.drop_database(db_url)
    _reports.append(report)
    yield report
    if not keep and "error" not in report and not any(
            found for name, found in report["violations"].items() if name not in KNOWN_TO_FAIL):
        shutil.rmtree(workdir, ignore_errors=True)
        report["workdir"] = None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for report in _reports:
        terminalreporter.write_sep("-", f"chaos figures ({report.get('backend')}, seed {report.get('seed')})")
        terminalreporter.write_line(invariants.summary(report))
        if report.get("workdir"):
            terminalreporter.write_line(f"  files: {report['workdir']}")
