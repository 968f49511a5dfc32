"""One chaos run per backend (``tests.chaos.driver`` in a process of its own), shared by the
tests of its invariants; the figures of every run are printed at the end of the session.
Its settings come from the environment (``settings``)."""

from __future__ import annotations

import json
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
from tests.chaos.settings import DURATION, KNOWN_TO_FAIL, RUN_TIMEOUT, SEED, SETTLE_TIMEOUT, WORKDIR

ROOT = Path(__file__).resolve().parents[2]

_reports: list[dict[str, Any]] = []


def _end(driver: subprocess.Popen[bytes]) -> None:
    """Stop the driver (it kills what it started on SIGTERM, then exits), at last with SIGKILL."""
    if driver.poll() is None:
        driver.send_signal(signal.SIGTERM)
        try:
            driver.wait(timeout=30)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()


def _run_driver(backend: str, workdir: Path, db_url: str | None) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "tests.chaos.driver",
        "--backend",
        backend,
        "--workdir",
        str(workdir),
        "--seed",
        str(SEED),
        "--duration",
        str(DURATION),
        "--settle-timeout",
        str(SETTLE_TIMEOUT),
    ]
    if db_url is not None:
        command += ["--db-url", db_url]
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "driver.log"
    with log_path.open("wb") as log:
        driver = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            driver.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            return {
                "backend": backend,
                "seed": SEED,
                "error": f"the chaos run took longer than {RUN_TIMEOUT:.0f} s; see {log_path}",
            }
        finally:  # also when the session is interrupted or times out meanwhile
            _end(driver)
    try:
        report: dict[str, Any] = json.loads((workdir / "report.json").read_text())
    except (OSError, ValueError) as exc:
        return {
            "backend": backend,
            "seed": SEED,
            "error": (
                f"no report ({exc}); the driver exited with {driver.returncode}; see {log_path}"
            ),
        }
    report.setdefault("workdir", str(workdir))
    return report


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def chaos_report(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    backend = str(request.param)
    if WORKDIR:
        workdir = Path(WORKDIR) / f"{time.strftime('%Y%m%d-%H%M%S')}-{backend}"
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
    if (
        not WORKDIR
        and "error" not in report
        and not any(
            found for name, found in report["violations"].items() if name not in KNOWN_TO_FAIL
        )
    ):
        shutil.rmtree(workdir, ignore_errors=True)
        report["workdir"] = None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for report in _reports:
        terminalreporter.write_sep(
            "-", f"chaos figures ({report.get('backend')}, seed {report.get('seed')})"
        )
        terminalreporter.write_line(invariants.summary(report))
        if report.get("workdir"):
            terminalreporter.write_line(f"  files: {report['workdir']}")
