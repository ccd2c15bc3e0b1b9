"""Figures and the donor report of `handover stress`, drawn from the saved files only.

Inputs in the study folder (written by `experiments.stress.driver`): summary.json, futures.csv,
outcomes.csv (scenario x future), robustness.csv, discovery.csv, trajectories.csv,
runs.parquet and, when monthly series were kept, timeseries.parquet. Nothing here runs
the model. Each plotting function writes one PNG and returns its path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.study.atomic import save_figure  # noqa: E402
from experiments.plots import PAYER_COLOURS, reference_line, scenario_colours  # noqa: E402
from experiments.report import Report  # noqa: E402

FIG_DIR = "figures"


def plot_robustness(robust: pd.DataFrame, gap_metric: str, path: Path) -> Path:
    """Bars per scenario: satisficing share, and worst-case regret in coverage and gap.

    Args:
        robust: robustness table (scenario column or index).
        gap_metric: the gap metric of the thresholds (e.g. `gap_risk`).
        path: PNG destination.

    Returns:
        The path written.
    """
    r = robust.set_index("scenario") if "scenario" in robust.columns else robust
    names = list(r.index)
    colours = [scenario_colours(names)[n] for n in names]
    panels = [("satisficing_share", "share of futures meeting thresholds")]
    panels += [(c, c.replace("_", " ")) for c in
               ("coverage_regret_max", f"{gap_metric}_regret_max") if c in r.columns]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2 + 0.15 * len(names)))
    for ax, (col, title) in zip(np.atleast_1d(axes), panels):
        ax.barh(names, r[col], color=colours)
        ax.set_title(title, fontsize=10)
        ax.invert_yaxis()
        if col == "satisficing_share":
            ax.set_xlim(0, 1)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_outcomes_across_futures(
    outcomes: pd.DataFrame, metrics: Sequence[str], path: Path, scenarios: Sequence[str]
) -> Path:
    """Distribution across futures of each metric, per scenario (box plot + points).

    Args:
        outcomes: one row per scenario x future.
        metrics: columns to show (one panel each).
        path: PNG destination.
        scenarios: scenario order.

    Returns:
        The path written.
    """
    metrics = [m for m in metrics if m in outcomes.columns]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    colours = scenario_colours(scenarios)
    for ax, m in zip(axes[0], metrics):
        data = [outcomes.loc[outcomes["scenario"] == s, m].dropna().to_numpy() for s in scenarios]
        ax.boxplot(data, orientation="horizontal", showfliers=False)
        rng = np.random.default_rng(0)  # jitter only; fixed so figures are reproducible
        for i, (s, d) in enumerate(zip(scenarios, data), start=1):
            ax.scatter(d, i + rng.uniform(-0.15, 0.15, len(d)), s=8, alpha=0.6,
                       color=colours[s])
        ax.set_yticks(range(1, len(scenarios) + 1), scenarios)
        ax.invert_yaxis()
        ax.set_title(m.replace("_", " "), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_tradeoff(trajectories: pd.DataFrame, scenario: str, path: Path) -> Path:
    """Coverage-density trade-off of PRIM's peeling trajectories for one scenario.

    Each point is a step of peeling (coloured by the number of restricted factors); the
    selected box of each trajectory is ringed and numbered.

    Args:
        trajectories: trajectories.csv rows (scenario, box, step, coverage, density,
            mass, res_dim, selected).
        scenario: which scenario.
        path: PNG destination.

    Returns:
        The path written.
    """
    t = trajectories[trajectories["scenario"] == scenario]
    fig, ax = plt.subplots(figsize=(5.2, 4))
    if t.empty:
        ax.text(0.5, 0.5, "no box found", ha="center", va="center", transform=ax.transAxes)
    else:
        sc = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=14)
        fig.colorbar(sc, ax=ax, label="restricted factors")
        for box, g in t.groupby("box"):
            ax.plot(g["coverage"], g["density"], lw=0.6, color="grey", alpha=0.6)
            sel = g[g["selected"].astype(bool)]
            ax.scatter(sel["coverage"], sel["density"], s=90, facecolors="none",
                       edgecolors="red", linewidths=1.5)
            for _, row in sel.iterrows():
                ax.annotate(f"box {box}", (row["coverage"], row["density"]),
                            textcoords="offset points", xytext=(-38, -14), fontsize=8, color="red")
    ax.set_xlabel("coverage (share of all failures in the box)")
    ax.set_ylabel("density (share of futures in the box that fail)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{scenario}: peeling trajectory", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def gap_share_by_month(
    series: pd.DataFrame, runs: pd.DataFrame, gap_delta: float, handover_start: int
) -> pd.DataFrame:
    """Share of kept runs in a gap month, per scenario and month (from handover start).

    A month is a gap month when rolling 3-month coverage is below (1 - gap_delta) x the
    run's baseline coverage (the definition of `gap_months`, sim/metrics.py).

    Args:
        series: timeseries rows (scenario, future, replication, month, coverage_rolling).
        runs: runs table with `baseline_coverage` per scenario x future x replication.
        gap_delta: relative coverage drop that counts as a gap.
        handover_start: first month of the handover window.

    Returns:
        Columns scenario, month, gap_share, runs.
    """
    keys = ["scenario", "future", "replication"]
    base = runs[keys + ["baseline_coverage"]]
    s = series.merge(base, on=keys, how="left")
    s = s[(s["month"] >= handover_start) & s["coverage_rolling"].notna()]
    s = s.assign(in_gap=(s["coverage_rolling"] < (1 - gap_delta) * s["baseline_coverage"]))
    g = s.groupby(["scenario", "month"])["in_gap"]
    return pd.DataFrame({"gap_share": g.mean(), "runs": g.size()}).reset_index()


def plot_gap_over_time(share: pd.DataFrame, path: Path, scenarios: Sequence[str],
                       handover_start: int | None = None) -> Path:
    """Share of futures in a coverage gap, month by month, per scenario."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    colours = scenario_colours(scenarios)
    for s in scenarios:
        g = share[share["scenario"] == s]
        ax.plot(g["month"], g["gap_share"], label=s, color=colours[s])
    reference_line(ax, handover_start)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("month")
    ax.set_ylabel("share of futures in a gap")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_spend(series: pd.DataFrame, path: Path, scenarios: Sequence[str],
               handover_start: int | None = None) -> Path:
    """Mean monthly spend by payer (donors, national) over futures, one panel per scenario."""
    n = len(scenarios)
    ncols = min(3, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.0 * nrows), sharey=True,
                             squeeze=False)
    flat = axes.ravel()
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax, s in zip(flat, scenarios):
        g = series[series["scenario"] == s].groupby("month")[["donor_spend", "national_spend"]]
        m = g.mean()
        ax.stackplot(m.index, m["donor_spend"] / 1e3, m["national_spend"] / 1e3,
                     labels=["donors", "national"],
                     colors=[PAYER_COLOURS["donor_spend"], PAYER_COLOURS["national_spend"]],
                     alpha=0.85)
        reference_line(ax, handover_start)
        ax.set_title(s, fontsize=10)
        ax.set_xlabel("month")
    for row in axes:
        row[0].set_ylabel("thousand USD / month")
    flat[0].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return save_figure(fig, path)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def peak_sentences(share: pd.DataFrame, scenarios: Sequence[str]) -> list[str]:
    """One sentence per scenario: when the share of futures in a gap peaks."""
    out = []
    for s in scenarios:
        g = share[share["scenario"] == s]
        if g.empty:
            continue
        top = g.loc[g["gap_share"].idxmax()]
        if top["gap_share"] <= 0:
            out.append(f"{s}: no future shows a coverage gap in the kept runs.")
        else:
            out.append(
                f"{s}: gap risk first reaches its peak at month {int(top['month'])}, when "
                f"{top['gap_share']:.0%} of futures are in a coverage gap."
            )
    return out


def build_report(out: Path | str) -> Path:
    """Draw the figures and write `report.html` (the donor report) from the saved files.

    Args:
        out: the stress study folder.

    Returns:
        Path of report.html.
    """
    out = Path(out)
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    scenarios = summary["scenarios"]
    gap_metric = summary["thresholds"]["gap_metric"]
    robust = pd.read_csv(out / "robustness.csv")
    outcomes = pd.read_csv(out / "outcomes.csv")
    boxes = _read_csv(out / "discovery.csv")
    trajs = _read_csv(out / "trajectories.csv")
    figs = out / FIG_DIR
    handover = summary.get("handover_start")

    rep = Report("Stress test of exit strategies",
                 subtitle=f"handover stress {' '.join(summary.get('overrides', []))}".strip())
    rep.add_text(
        "Summary",
        f"{summary['reason']}\n\n"
        f"{len(scenarios)} strategies were each run in the same {summary['futures']} futures "
        f"(Latin hypercube over the space '{summary['space']['name']}') with "
        f"{summary['replications']} replication(s) per future; replication r uses the same "
        f"seed in every strategy and future (common random numbers). Thresholds: "
        f"{summary['thresholds_text']}. Criterion: {summary['criterion']}. "
        f"{summary.get('uncertainty', '')}",
    )
    cols = ["scenario", "futures", "coverage_mean", "coverage_worst", "coverage_p05",
            "coverage_regret_max", f"{gap_metric}_mean", f"{gap_metric}_worst",
            f"{gap_metric}_p95", f"{gap_metric}_regret_max", "satisficing_share",
            "donor_spend_mean", "national_spend_mean", "national_share"]
    show = robust[[c for c in cols if c in robust.columns]]
    rep.add_table("Strategies side by side under stress", show,
                  caption="worst = worst future; p05/p95 = value reached in 95 % of futures; "
                          "regret = distance to the best strategy in the same future; "
                          "spend: USD over the horizon, mean over futures. Every column of "
                          "robustness.csv is in the CSV.",
                  csv_name="robustness.csv", max_columns=8)
    rep.add_figure("Robustness", plot_robustness(robust, gap_metric, figs / "robustness.png"),
                   caption="Share of futures meeting the thresholds, and worst-case regret.")
    rep.add_figure(
        "Outcomes across futures",
        plot_outcomes_across_futures(outcomes, ["coverage", gap_metric], figs / "outcomes.png",
                                     scenarios),
        caption="Each point is one future (mean over replications).",
    )
    ts_path = out / "timeseries.parquet"
    if ts_path.exists():
        series = pd.read_parquet(ts_path)
        runs = pd.read_parquet(out / "runs.parquet")
        if {"coverage_rolling", "month"} <= set(series.columns) and "baseline_coverage" in runs:
            share = gap_share_by_month(series, runs, summary["gap_delta"], handover or 0)
            rep.add_figure("When gap risk peaks in the handover",
                           plot_gap_over_time(share, figs / "gap_over_time.png", scenarios,
                                              handover),
                           caption="Share of futures whose rolling coverage is below "
                                   f"(1 - {summary['gap_delta']:g}) x baseline, by month; "
                                   "dashed line: start of the handover.")
            rep.add_list("Gap peaks", peak_sentences(share, scenarios))
        if {"donor_spend", "national_spend", "month"} <= set(series.columns):
            rep.add_figure("Spend by payer over time",
                           plot_spend(series, figs / "spend_over_time.png", scenarios, handover),
                           caption="Mean monthly spend over futures (stacked).")
    rep.add_list("Where strategies fail (scenario discovery)", summary["findings"])
    for s in summary["discovery_scenarios"]:
        # a scenario without a box has no trajectory to draw: its finding above says so
        if trajs.empty or trajs[trajs["scenario"] == s].empty:
            continue
        rep.add_figure(f"Coverage-density trade-off: {s}",
                       plot_tradeoff(trajs, s, figs / f"tradeoff_{s}.png"),
                       caption="PRIM peeling trajectory: each step trades coverage for "
                               "density; ringed points are the reported boxes.")
    if not boxes.empty:
        rep.add_table("Boxes (restricted factors)", boxes[boxes["restricted"].astype(bool)],
                      caption="low/high: the box's range; data_low/high: the sampled range.")
    rep.add_table("Uncertainty space", pd.DataFrame(summary["space"]["factors"]))
    rep.add_config(summary["config"])
    rep.add_seeds(summary["seeds"])
    return rep.write(out / "report.html")
