"""The per-task start delay plot (PNG): W1 hop by hop, W2 every fan-out task.

matplotlib is an optional bench dependency (``make bench`` installs it into the venv; it is
not a Tradewind dependency): without it the plot is skipped and the report says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {"tradewind": "tab:blue", "airflow": "tab:orange"}


def plot_start_delays(raw: dict[str, dict[str, list[dict[str, Any]]]], path: Path) -> str | None:
    """Write the PNG; None when there is nothing to draw or no matplotlib."""
    if not any(raw.get(side, {}).get(key) for side in raw for key in ("W1", "W2")):
        return None
    try:
        import matplotlib  # optional: only the bench needs it

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return None
    fig, (hops_ax, fan_ax) = plt.subplots(1, 2, figsize=(13, 4.8))
    log_scale = "airflow" in raw
    for side, workloads in raw.items():
        color = COLORS.get(side, "tab:gray")
        for rep, data in enumerate(workloads.get("W1", [])):
            hops = data.get("hops_ms", [])
            hops_ax.plot(
                range(1, len(hops) + 1),
                hops,
                marker="o",
                markersize=3,
                color=color,
                alpha=0.8,
                label=f"{side}" if rep == 0 else None,
            )
        for rep, data in enumerate(workloads.get("W2", [])):
            delays = data.get("start_delays_ms", [])
            fan_ax.plot(
                range(1, len(delays) + 1),
                delays,
                color=color,
                alpha=0.8,
                label=f"{side}" if rep == 0 else None,
            )
    hops_ax.set_title("W1 chain: each hop (upstream end → downstream start)")
    hops_ax.set_xlabel("downstream task (position in the chain)")
    hops_ax.set_ylabel("delay (ms)")
    fan_ax.set_title("W2 fan-out: each task's start after `start` ended (sorted)")
    fan_ax.set_xlabel("fan-out task (rank by start)")
    fan_ax.set_ylabel("delay (ms)")
    for ax in (hops_ax, fan_ax):
        if log_scale:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(title="one line per repetition")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
