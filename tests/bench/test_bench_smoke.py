"""The benchmark harness runs end to end (W1 only, quick sizes, a warm-up run and one repetition).

No timing is asserted: this checks that ``python -m bench`` still starts ``standalone``,
triggers a run, reads its task instances and writes its outputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_w1_writes_results(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "W1",
            "--repeat",
            "1",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["ok"] is True
    by_key = {figure["key"]: figure for figure in data["tradewind"]}
    for key in ("baseline.each", "W1.wall", "W1.hop_median", "W1.cold"):
        assert by_key[key]["error"] is None
        assert len(by_key[key]["values"]) >= 1
    assert len(by_key["W1.wall"]["values"]) == 1  # the warm-up run is not a repetition
    assert len(data["raw"]["tradewind"]["W1"]) == 1
    assert len(data["raw"]["tradewind"]["W1"][0]["hops_ms"]) == 19
    table = (tmp_path / "latest.md").read_text()
    assert "W1 chain" in table and "| Figure |" in table


@pytest.mark.slow
def test_quick_w8_reports_history_over_empty_ratios(tmp_path: Path) -> None:
    """W8 fills a (small) history in bulk, measures both metastores and reports each figure
    of each side and their ratio; no figure fails to be measured."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "W8", "--repeat", "1"]
        + ["--warmup", "0", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "latest.json").read_text())
    by_key = {figure["key"]: figure for figure in data["tradewind"]}
    assert all(figure["error"] is None for figure in data["tradewind"])
    for measure in ("W1.hop_median", "W2.rate", "W4.wall", "pass.full", "api.tis_all", "ui.grid"):
        assert by_key[f"W8.empty.{measure}"]["values"]
        assert by_key[f"W8.history.{measure}"]["values"]
        assert by_key[f"W8.ratio.{measure}"]["target"] == {"op": "<", "limit": 1.5}
    assert by_key["W8.prefill"]["values"]
