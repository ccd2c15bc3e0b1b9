"""Figures of a sweep: each main outcome against each swept parameter (from runs.parquet)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.study.atomic import save_figure
from experiments.sweep.driver import _tag_value, outcome_columns


def plot_sweep(runs_path: Path, figures_dir: Path, plan: dict[str, Any]) -> list[Path]:
    """Figures of the main outcomes against each swept parameter, drawn from runs.parquet.

    One PNG per parameter; one panel per main outcome; one line per scenario showing the
    mean and its interval over all successful runs with that parameter value (averaged over
    the other swept parameters, if any). Numeric values are placed on a numeric axis,
    others in the order they were given.

    Args:
        runs_path: the saved runs table.
        figures_dir: folder for the PNG files.
        plan: output of `make_plan`.

    Returns:
        Paths of the figures written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments import units
    from experiments.compare.paired import t_interval
    from experiments.plots import scenario_colours

    colours = scenario_colours(plan["scenarios"])
    runs = pd.read_parquet(runs_path)
    runs = runs[runs["error"].isna()]
    outcomes = [o for o in plan["outcomes"] if o in outcome_columns(runs, plan)]
    if runs.empty or not outcomes:
        return []
    figures_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for param in plan["params"]:
        data = runs[runs[param].notna()]
        if data.empty:
            continue
        values = list(dict.fromkeys(v for s in plan["settings"] if param in s
                                    for v in [_tag_value(s[param])]))
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        xpos = {v: (float(v) if numeric else i) for i, v in enumerate(values)}
        ncol = min(3, len(outcomes))
        nrow = math.ceil(len(outcomes) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
        for ax, outcome in zip(axes.flat, outcomes):
            for scenario in plan["scenarios"]:
                sub = data[data["scenario"] == scenario]
                pts = []
                for v in values:
                    vals = sub.loc[sub[param] == v, outcome].astype(float).to_numpy()
                    if len(vals):
                        pts.append((xpos[v], *t_interval(vals, plan["level"])))
                if not pts:
                    continue
                pts.sort()
                x, m, lo, hi = (list(t) for t in zip(*pts))
                ax.plot(x, m, marker="o", label=scenario, color=colours[scenario])
                ax.fill_between(x, units.clip(outcome, lo), units.clip(outcome, hi),
                                alpha=0.2, color=colours[scenario])
            ax.set_title(outcome)
            ax.set_xlabel(param)
            if not numeric:
                ax.set_xticks(range(len(values)), [str(v) for v in values], rotation=30)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(outcomes):]:
            ax.set_visible(False)
        axes.flat[0].legend(fontsize=8)
        others = [p for p in plan["params"] if p != param]
        note = f" (mean over {', '.join(others)})" if others else ""
        fig.suptitle(f"Outcomes against {param}{note}; band: {plan['level']:.0%} interval")
        fig.tight_layout()
        path = figures_dir / f"sweep_{_safe(param)}.png"
        save_figure(fig, path)
        written.append(path)
    for old in figures_dir.glob("sweep_*.png"):  # figures of another study in this folder
        if old not in written:
            old.unlink()
    return written


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
