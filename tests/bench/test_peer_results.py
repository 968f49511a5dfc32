"""The peers' documents become figures by the workloads' own definitions, and the report puts
them beside Tradewind's with each system's isolation model. No peer is installed here: the
documents are written by hand, as the peer scripts print them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from bench import peer_report, peer_side
from bench.figures import BenchError, FigureSet
from bench.workloads import RunWorkload, Sizes, run_workloads

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(ms: float) -> str:
    return (T0 + dt.timedelta(milliseconds=ms)).isoformat()


def workload(key: str) -> RunWorkload:
    specs = run_workloads(Sizes(w1_tasks=3, w2_tasks=2, w3_tasks=2))
    return next(spec for spec in specs if spec.key == key)


def chain_run(*, warmup: bool, state: str = "completed", shift: float = 0.0) -> dict[str, Any]:
    """W1 of three tasks: hops of 5 ms and 7 ms, done 50 ms after the trigger."""
    spans = [(10, 20), (25, 30), (37, 40)]
    return {
        "t0": at(shift),
        "warmup": warmup,
        "run": {
            "run_id": f"r{shift}",
            "state": "COMPLETED",
            "start": at(shift + 5),
            "end": at(shift + 50),
        },
        "tasks": [
            {"task_id": f"t{i:03d}", "state": state, "start": at(shift + a), "end": at(shift + b)}
            for i, (a, b) in reversed(list(enumerate(spans)))
        ],
    }


def test_chain_document_gives_the_workload_figures_and_keeps_the_warm_up_apart() -> None:
    result = peer_side.PeerResult(peer_side.VARIANTS[0], FigureSet())
    document = {"runs": [chain_run(warmup=True, shift=1000), chain_run(warmup=False)]}

    peer_side.record_document(document, workload("W1"), result)

    hop = result.figures.get("W1.hop_median")
    wall = result.figures.get("W1.wall")
    cold = result.figures.get("W1.cold")
    first = result.figures.get("W1.first_start")
    assert hop is not None and hop.values == [pytest.approx(6.0)]
    assert wall is not None and wall.values == [pytest.approx(0.05)]
    assert cold is not None and cold.values == [pytest.approx(0.05)]
    assert first is not None and first.values == [pytest.approx(10.0)]
    assert result.raw["W1"][0]["hops_ms"] == [pytest.approx(5.0), pytest.approx(7.0)]


def test_dagster_style_rows_count_as_success_and_rate_counts_every_task() -> None:
    start, ends = 0.0, {"start": (2, 4), "p000": (6, 8), "p001": (6, 9), "end": (12, 15)}
    run = {
        "t0": at(start),
        "warmup": False,
        "run": {"run_id": "d1", "state": "success", "start": at(1), "end": at(20)},
        "tasks": [
            {"task_id": key, "state": "SUCCESS", "start": at(a), "end": at(b)}
            for key, (a, b) in ends.items()
        ],
    }
    values, _raw = peer_side.analyze_run(run, workload("W2"))
    assert values["W2.wall"] == pytest.approx(0.02)
    assert values["W2.rate"] == pytest.approx(4 / 0.02)


def test_failed_task_or_missing_records_refuse_the_run() -> None:
    with pytest.raises(BenchError, match="not succeeded"):
        peer_side.analyze_run(chain_run(warmup=False, state="failed"), workload("W1"))
    short = chain_run(warmup=False)
    short["tasks"] = short["tasks"][:2]
    with pytest.raises(BenchError, match="2 task records, expected 3"):
        peer_side.analyze_run(short, workload("W1"))


def test_document_is_the_last_json_line_of_the_output() -> None:
    document = {"system": "prefect", "runs": []}
    noisy = "Starting server...\n{not json either\n" + json.dumps(document) + "\n"
    assert peer_side.parse_document(noisy) == document
    with pytest.raises(BenchError, match="no JSON"):
        peer_side.parse_document("Traceback (most recent call last):\n  boom\n")


def test_section_puts_peers_beside_tradewind_with_floors_isolation_and_failures() -> None:
    tradewind = FigureSet()
    tradewind.add("W1.hop_median", "W1 chain: median hop", "ms", 5.6)
    tradewind.add("baseline.each", "Baseline: one `python -c pass`", "ms", 20.0)
    tradewind.add("baseline.fork", "Baseline: one warm fork", "ms", 1.0)
    threads = peer_side.PeerResult(peer_side.VARIANTS[0], FigureSet(), {"version": "3.9.1"})
    threads.figures.add("W1.hop_median", "W1 chain: median hop", "ms", 1.5)
    multiprocess = peer_side.PeerResult(peer_side.VARIANTS[3], FigureSet(), {"version": "1.13"})
    multiprocess.figures.fail("W1.hop_median", "W1 chain: median hop", "ms", "timed out")

    lines = peer_report.section(tradewind, None, None, [threads, multiprocess])
    text = "\n".join(lines)

    row = next(line for line in lines if line.startswith("| W1 chain: median hop"))
    assert row.split(" | ")[1:] == [
        "5.6 ms ≈ 0.3 py / 5.6 forks",
        "1.5 ms ≈ 0.1 py / 1.5 forks",
        "FAILED: timed out |",
    ]
    assert "Airflow" not in text
    assert f"**Tradewind**: {peer_side.TRADEWIND_ISOLATION}" in text
    assert f"**{threads.variant.title}**: {threads.variant.isolation}" in text
    assert peer_side.PREFECT.timestamps in text and peer_side.DAGSTER.timestamps in text
    assert peer_report.section(tradewind, None, None, []) == []
