"""The celery workloads run end to end: W1 and W2 (quick sizes, no warm-up, one repetition)
through the celery executor with one and two ``tradewind celery worker`` processes on
PostgreSQL and Redis, reported next to the local executor's.

No timing is asserted: this checks that ``python -m bench --celery`` starts each deployment,
its runs succeed on the workers, and the JSON and the report carry the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from remote_celery.brokers import require

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/12"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.mark.timeout(480)
def test_quick_celery_w1_w2_write_results(tmp_path: Path, postgres_server) -> None:
    require(BROKER)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--db", "postgres", "--quick", "--only", "W1,W2"]
        + ["--repeat", "1", "--warmup", "0", "--celery", "--celery-workers", "1,2"]
        + ["--celery-broker", BROKER, "--postgres-url", postgres_server.url_of("postgres")]
        + ["--postgres-database", f"{postgres_server.prefix}_bench", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=450,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "latest-celery.json").read_text())
    assert data["ok"] is True
    assert data["meta"]["celery"]["workers"] == [1, 2]
    results = {(r["orchestrator"], r["workers"]): r for r in data["celery"]}
    assert set(results) == {("tradewind", 1), ("tradewind", 2)}
    assert [results["tradewind", n]["concurrency"] for n in (1, 2)] == [16, 8]
    for result in results.values():
        by_key = {figure["key"]: figure for figure in result["figures"]}
        assert set(by_key) == {"W1.wall", "W1.hop_median", "W1.first_start", "W2.wall", "W2.rate"}
        assert all(f["error"] is None and len(f["values"]) == 1 for f in by_key.values())
        assert len(result["raw"]["W1"][0]["hops_ms"]) == 19
        assert len(result["raw"]["W2"][0]["start_delays_ms"]) == 20
        # The workers' logs account for every try: 20 of W1, 22 of W2.
        spread = result["facts"]["messages_per_worker"]
        assert len(spread) == result["workers"] and sum(spread.values()) == 42, spread
    table = (tmp_path / "latest-celery.md").read_text()
    assert "## Celery executor" in table
    assert "| Local executor | Tradewind, 1 worker × 16 | Tradewind, 2 workers × 8 |" in table
