"""Figures of a single run, drawn from its saved time series (never by running the model)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

KIND_LABELS = {
    "external_implementer": "external implementers",
    "national_agency": "national agency",
    "local_office": "local offices",
    "sector_service": "sector public services",
    "local_ngo": "local NGOs",
}


def scenario_colours(names: Sequence[str]) -> dict[str, tuple]:
    """One colour per scenario, in order, from matplotlib's tab10 cycle (repeats after 10).

    Args:
        names: scenario names in display order.

    Returns:
        name -> RGBA tuple.
    """
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def plot_run(ts: pd.DataFrame, path: Path, title: str, handover_start: int | None = None) -> Path:
    """Coverage (monthly cohorts and rolling) and caseload by provider kind over time."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    ax1.plot(ts["month"], ts["coverage"], color="0.7", lw=1, label="monthly cohort")
    ax1.plot(ts["month"], ts["coverage_rolling"], color="C0", lw=2, label="3-month rolling")
    ax1.set_ylabel("coverage (share of need\nepisodes served in time)")
    ax1.set_ylim(0, max(0.05, float(ts["coverage"].max(skipna=True) or 0) * 1.15))
    ax1.legend(loc="upper right", frameon=False)
    for kind, label in KIND_LABELS.items():
        col = f"caseload_{kind}"
        if col in ts:
            ax2.plot(ts["month"], ts[col], lw=2, label=label)
    ax2.set_ylabel("open cases (need episodes\nin service, persons)")
    ax2.set_xlabel("month")
    ax2.legend(loc="upper right", frameon=False, fontsize=8)
    for ax in (ax1, ax2):
        if handover_start is not None:
            ax.axvline(handover_start, color="k", ls=":", lw=1)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
