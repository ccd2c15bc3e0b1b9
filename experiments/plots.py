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


#: The palette every figure draws scenarios from (tab10, then tab10's lighter twins).
PALETTE = tuple(plt.get_cmap("tab10")(i) for i in range(10)) + tuple(
    plt.get_cmap("tab20")(2 * i + 1) for i in range(10)
)


#: Colours of the payers in every spend figure.
PAYER_COLOURS = {"donor_spend": "#4C72B0", "national_spend": "#DD8452"}


def scenario_colours(names: Sequence[str]) -> dict[str, tuple]:
    """One colour per scenario, the same in every figure and every study.

    Scenarios of the library (configs/scenario/) keep a fixed colour by their place in the
    sorted library, so `status_quo` looks the same in the coverage lines, the gap-risk
    bars and the stress figures; other names (own scenario files) take the next free
    colours in the order given.

    Args:
        names: scenario names (any order).

    Returns:
        name -> RGBA tuple.
    """
    from experiments.config import group_options

    library = group_options("scenario")
    fixed = {n: i for i, n in enumerate(library)}
    out: dict[str, tuple] = {}
    free = (i for i in range(len(library), 10**6))
    for name in names:
        if name in out:
            continue
        index = fixed[name] if name in fixed else next(free)
        out[name] = PALETTE[index % len(PALETTE)]
    return out


def reference_line(ax: plt.Axes, month: float | None, text: str = "handover start") -> None:
    """Dashed vertical line at `month`, labelled (used for the start of the handover)."""
    if month is None:
        return
    ax.axvline(month, color="0.35", ls="--", lw=1, zorder=1)
    ax.annotate(text, xy=(month, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                textcoords="offset points", ha="left", va="top", fontsize=8, color="0.35")


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
        reference_line(ax, handover_start)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
