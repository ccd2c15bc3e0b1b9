"""Figures of `handover compare`, drawn from the files it saved (never runs the model).

Inputs in the study folder: comparison.csv, paired_differences.csv and
timeseries.parquet (one row per scenario x replication x month, with a `month` column and
monthly series such as coverage, donor_spend, national_spend, dropped_cases).
Every function writes one PNG and returns its path; `draw_all` draws what the data allow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from experiments.study.atomic import save_figure  # noqa: E402
from experiments import units  # noqa: E402
from experiments.plots import PAYER_COLOURS, reference_line, scenario_colours  # noqa: E402

#: (file name, heading, caption template; {pct} = confidence level) of each figure.
FIGURES = {
    "coverage": (
        "coverage_over_time.png",
        "Coverage over time",
        "Coverage by month in which need episodes open (share served within the timely "
        "window; 3-month rolling mean when the simulator provides it, as used for gap "
        "months), mean over replications with {pct} t-interval bands (clipped to [0, 100] "
        "%). Dashed line: start of the handover window.",
    ),
    "gap_risk": (
        "gap_risk.png",
        "Gap risk",
        "Share of replications with a material gap (coverage below the tolerance line of "
        "the run's own baseline, beyond sampling noise, for several months in a row), "
        "with {pct} Wilson intervals.",
    ),
    "differences": (
        "paired_differences.png",
        "Differences against the reference",
        "Mean difference from the reference scenario. Thick bar: paired {pct} interval "
        "(same seeds); thin bar: unpaired Welch interval, for contrast.",
    ),
    "spend": (
        "spend_by_payer.png",
        "Spend by payer over time",
        "Mean monthly spend by donors and by the national treasury (stacked), per scenario.",
    ),
    "dropped": (
        "dropped_cases_over_time.png",
        "Dropped cases over time",
        "Cumulative dropped cases (open cases interrupted and not picked up in time), mean "
        "over replications with {pct} t-interval bands.",
    ),
}


def band(series: pd.DataFrame, column: str, level: float = 0.95) -> pd.DataFrame:
    """Per scenario and month: mean of `column` over replications with a t-interval.

    The interval is clipped to what the quantity can take (`experiments.units.clip`:
    shares in [0, 1], counts and spend >= 0).

    Args:
        series: long table with scenario, replication, month and `column`.
        column: the monthly quantity (its name decides the clipping).
        level: confidence level.

    Returns:
        DataFrame with scenario, month, mean, lo, hi, n (lo/hi = mean when n < 2).
    """
    g = series.groupby(["scenario", "month"], sort=False)[column]
    out = g.agg(["mean", "std", "count"]).reset_index()
    n = out["count"].to_numpy(float)
    tcrit = np.where(n > 1, stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)), 0.0)
    half = np.nan_to_num(tcrit * out["std"].to_numpy(float) / np.sqrt(np.maximum(n, 1)))
    out["lo"] = units.clip(column, out["mean"] - half)
    out["hi"] = units.clip(column, out["mean"] + half)
    return out.rename(columns={"count": "n"}).drop(columns="std")


def draw_band_lines(
    ax: plt.Axes,
    series: pd.DataFrame,
    column: str,
    scenarios: Sequence[str],
    handover_start: float | None = None,
    cumulative: bool = False,
    scale: float = 1.0,
    reference: str | None = None,
    level: float = 0.95,
) -> None:
    """Draw the mean per scenario with confidence bands on `ax` (see `plot_band_lines`)."""
    data = series[["scenario", "replication", "month", column]].copy()
    data = data.sort_values(["scenario", "replication", "month"])
    if cumulative:
        data[column] = data.groupby(["scenario", "replication"])[column].cumsum()
    b = band(data, column, level)  # clipped in the quantity's own units, then scaled
    b[["mean", "lo", "hi"]] = b[["mean", "lo", "hi"]] * scale
    colours = scenario_colours(scenarios)
    for name in scenarios:
        s = b[b["scenario"] == name]
        if s.empty:
            continue
        is_ref = name == reference
        ax.plot(s["month"], s["mean"], color=colours[name], lw=2.2 if is_ref else 1.5,
                label=f"{name} (reference)" if is_ref else name, zorder=3 if is_ref else 2)
        ax.fill_between(s["month"], s["lo"], s["hi"], color=colours[name], alpha=0.18, lw=0)
    reference_line(ax, handover_start)
    ax.set_xlabel("month")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, frameon=False)


def plot_band_lines(
    series: pd.DataFrame,
    column: str,
    path: Path,
    ylabel: str,
    scenarios: Sequence[str],
    handover_start: float | None = None,
    cumulative: bool = False,
    scale: float = 1.0,
    reference: str | None = None,
    level: float = 0.95,
) -> Path:
    """Lines of the mean per scenario with confidence bands (one axis).

    Args:
        series: long monthly table.
        column: series column to draw.
        path: PNG destination.
        ylabel: y-axis label.
        scenarios: scenarios in legend order.
        handover_start: month of the labelled dashed vertical line, or None.
        cumulative: draw the running sum per run instead of monthly values.
        scale: multiply values (e.g. 100 for percent).
        reference: scenario drawn thicker, on top and labelled "(reference)", or None.
        level: confidence level of the bands.

    Returns:
        The PNG path.
    """
    fig, ax = plt.subplots(figsize=(9, 4.8))
    draw_band_lines(ax, series, column, scenarios, handover_start, cumulative, scale,
                    reference, level)
    ax.set_ylabel(ylabel)
    return save_figure(fig, path)


def plot_gap_risk(comparison: pd.DataFrame, path: Path) -> Path:
    """Horizontal bars of gap risk per scenario with Wilson intervals.

    Args:
        comparison: comparison table (scenario, gap_risk, gap_risk_lo, gap_risk_hi).
        path: PNG destination.

    Returns:
        The PNG path.
    """
    names = list(comparison["scenario"])
    colours = scenario_colours(names)
    y = np.arange(len(names))[::-1]
    p = comparison["gap_risk"].to_numpy(float) * 100
    lo = comparison["gap_risk_lo"].to_numpy(float) * 100
    hi = comparison["gap_risk_hi"].to_numpy(float) * 100
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    ax.barh(y, p, color=[colours[n] for n in names], alpha=0.8)
    ax.errorbar(p, y, xerr=[p - lo, hi - p], fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(y, names)
    ax.set_xlabel("gap risk, % of replications with a material gap")
    ax.set_xlim(0, 100)
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_differences(
    diffs: pd.DataFrame, path: Path, outcomes: Sequence[str], reference: str
) -> Path:
    """Forest plot of paired (thick) and unpaired (thin) differences vs the reference.

    Args:
        diffs: long table from `experiments.paired.paired_differences`.
        path: PNG destination.
        outcomes: outcome names, one panel each (missing ones skipped).
        reference: reference scenario name (for titles).

    Returns:
        The PNG path.
    """
    outcomes = [o for o in outcomes if o in set(diffs["outcome"])]
    colours = scenario_colours(list(dict.fromkeys(diffs["scenario"])))
    fig, axes = plt.subplots(1, max(1, len(outcomes)), figsize=(4.2 * max(1, len(outcomes)), 4),
                             squeeze=False)
    for ax, outcome in zip(axes[0], outcomes):
        d = diffs[diffs["outcome"] == outcome]
        names = list(d["scenario"])
        y = np.arange(len(names))[::-1]
        # shares in percentage points, everything else in its own unit
        scale = 100.0 if units.kind(outcome) == "share" else 1.0
        unit = units.unit(f"diff_{outcome}")
        ax.hlines(y, d["unpaired_lo"] * scale, d["unpaired_hi"] * scale, color="grey", lw=1)
        ax.hlines(y, d["diff_lo"] * scale, d["diff_hi"] * scale,
                  color=[colours[n] for n in names], lw=4)
        ax.plot(d["diff"] * scale, y, "k|", ms=10)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, names if ax is axes[0][0] else [""] * len(names))
        ax.set_title(f"{outcome} − {reference}", fontsize=9)
        ax.set_xlabel(f"difference ({unit})" if unit else "difference", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def plot_spend(
    series: pd.DataFrame,
    path: Path,
    scenarios: Sequence[str],
    handover_start: float | None = None,
    payers: Sequence[str] = ("donor_spend", "national_spend"),
) -> Path:
    """Small multiples: mean monthly spend by payer, stacked, one panel per scenario.

    Args:
        series: long monthly table with the payer columns.
        path: PNG destination.
        scenarios: panel order.
        handover_start: month of the dashed line, or None.
        payers: spend columns, stacked in this order.

    Returns:
        The PNG path.
    """
    payers = [p for p in payers if p in series.columns]
    mean = series.groupby(["scenario", "month"])[payers].mean().reset_index()
    n = len(scenarios)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4 * ncol, 2.6 * nrow), sharex=True,
                             sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, scenarios):
        s = mean[mean["scenario"] == name].sort_values("month")
        ax.stackplot(s["month"], *[s[p] for p in payers],
                     labels=[p.replace("_spend", "") for p in payers],
                     colors=[PAYER_COLOURS.get(p, "0.6") for p in payers], alpha=0.85)
        reference_line(ax, handover_start)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, frameon=False, loc="upper right")
    fig.supxlabel("month")
    fig.supylabel("spend per month (USD)")
    return save_figure(fig, path)


#: Accepted names of the monthly series each figure needs (first present wins).
SERIES_ALIASES = {
    "coverage": ("coverage_rolling", "coverage", "coverage_monthly"),
    "dropped": ("dropped_cases", "dropped"),
}


def _pick(columns: set[str], kind: str) -> str | None:
    return next((c for c in SERIES_ALIASES[kind] if c in columns), None)


def draw_all(
    out: Path,
    handover_start: float | None = None,
    reference: str | None = None,
    level: float = 0.95,
) -> list[tuple[str, Path, str]]:
    """Draw every figure the saved files support.

    Args:
        out: study folder with comparison.csv, paired_differences.csv and (optionally)
            timeseries.parquet.
        handover_start: month the handover window starts (dashed lines), or None.
        reference: reference scenario name (difference titles), or None.
        level: confidence level of the bands (intervals in the tables are computed
            by experiments.compare.paired at the same level).

    Returns:
        (heading, png path, caption) per figure drawn, in report order.
    """
    out = Path(out)
    comparison = pd.read_csv(out / "comparison.csv")
    scenarios = list(comparison["scenario"])
    drawn: dict[str, Path] = {}
    ts_path = out / "timeseries.parquet"
    series = pd.read_parquet(ts_path) if ts_path.exists() else pd.DataFrame()
    has = set(series.columns)
    cov_col, drop_col = _pick(has, "coverage"), _pick(has, "dropped")
    if "month" in has and cov_col:
        drawn["coverage"] = plot_band_lines(
            series, cov_col, out / FIGURES["coverage"][0], "coverage (%)", scenarios,
            handover_start, scale=100.0, reference=reference, level=level,
        )
    if "gap_risk" in comparison:
        drawn["gap_risk"] = plot_gap_risk(comparison, out / FIGURES["gap_risk"][0])
    diff_path = out / "paired_differences.csv"
    if diff_path.exists() and reference:
        diffs = pd.read_csv(diff_path)
        if not diffs.empty:
            drawn["differences"] = plot_differences(
                diffs, out / FIGURES["differences"][0],
                ["coverage", "dropped_cases", "unmet_need_months"], reference,
            )
    if "month" in has and {"donor_spend", "national_spend"} & has:
        drawn["spend"] = plot_spend(series, out / FIGURES["spend"][0], scenarios, handover_start)
    if "month" in has and drop_col:
        drawn["dropped"] = plot_band_lines(
            series, drop_col, out / FIGURES["dropped"][0], "cumulative dropped cases",
            scenarios, handover_start, cumulative=True, reference=reference, level=level,
        )
    pct = f"{level * 100:g} %"
    return [(FIGURES[k][1], drawn[k], FIGURES[k][2].format(pct=pct)) for k in FIGURES if k in drawn]
