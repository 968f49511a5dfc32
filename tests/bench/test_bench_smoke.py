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
