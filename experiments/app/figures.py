"""Matplotlib figures of the app, drawn from a compare study's files (never runs the model).

Colours, bands and the handover-start line are those of the reports
(`experiments.plots`, `experiments.compare.plots`, `experiments.units`).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from experiments import units  # noqa: E402
from experiments.compare.plots import draw_band_lines  # noqa: E402
from experiments.plots import scenario_colours  # noqa: E402


def series_figure(
    series: pd.DataFrame,
    column: str,
    scenarios: Sequence[str],
    reference: str | None = None,
    handover_start: float | None = None,
    level: float = 0.95,
) -> Figure:
    """One monthly series over time: mean per scenario with its confidence band.

    Args:
        series: timeseries.parquet of a compare study.
        column: the series (shares are drawn in %).
        scenarios: scenarios in legend order.
        reference: reference scenario (drawn thicker).
        handover_start: month of the labelled handover-start line.
        level: confidence level of the bands.

    Returns:
        The figure (closed for pyplot; Solara renders it).
    """
    share = units.kind(column) == "share"
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    draw_band_lines(ax, series, column, scenarios, handover_start,
                    scale=100.0 if share else 1.0, reference=reference, level=level)
    ax.set_ylabel(units.label(column))
    ax.set_title(f"{column} over time (mean, {level:.0%} band)", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def outcome_bars(comparison: pd.DataFrame, outcomes: Sequence[str], scenarios: Sequence[str],
                 level: float = 0.95) -> Figure:
    """Grouped bars: each outcome (one panel) per scenario, with its confidence interval.

    Args:
        comparison: comparison.csv (`<outcome>_mean`, `_lo`, `_hi`).
        outcomes: outcome names to show (missing ones skipped).
        scenarios: scenario order.
        level: confidence level (for the title).

    Returns:
        The figure.
    """
    outcomes = [o for o in outcomes if f"{o}_mean" in comparison.columns]
    colours = scenario_colours(scenarios)
    n = max(1, len(outcomes))
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n + 1.5, 0.45 * len(scenarios) + 1.6),
                             squeeze=False, sharey=True)
    table = comparison.set_index("scenario").reindex(scenarios)
    y = np.arange(len(scenarios))[::-1]
    for ax, o in zip(axes[0], outcomes):
        scale = 100.0 if units.kind(o) == "share" else 1.0
        m = table[f"{o}_mean"].to_numpy(float) * scale
        lo = table.get(f"{o}_lo", table[f"{o}_mean"]).to_numpy(float) * scale
        hi = table.get(f"{o}_hi", table[f"{o}_mean"]).to_numpy(float) * scale
        ax.barh(y, m, color=[colours[s] for s in scenarios], alpha=0.85)
        ax.errorbar(m, y, xerr=[np.clip(m - lo, 0, None), np.clip(hi - m, 0, None)],
                    fmt="none", ecolor="black", capsize=3, lw=1)
        ax.set_title(units.label(o), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(y, scenarios)
    fig.suptitle(f"Means over replications with {level:.0%} intervals", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
