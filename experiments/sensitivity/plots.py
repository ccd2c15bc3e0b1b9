"""Figures of a sensitivity study, drawn from its saved tables only.

`plot_study(output_dir)` reads `indices.csv`, `convergence.csv` and `manifest.json` and
writes, per outcome, `fig_indices_<outcome>.png` (S1/ST or mu* bars with their intervals),
for Morris `fig_morris_<outcome>.png` (mu* against sigma), and one `fig_convergence.png`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from experiments.study.atomic import save_figure  # noqa: E402


#: factors labelled in the mu*-sigma plot / drawn in the convergence plot
LABELLED = 10
TOP_CONVERGENCE = 6


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def _short(name: str) -> str:
    """A short label for a dotted path: its last two parts (three after `default`/`initial`).

    `country.returnees.trust_gov` -> `returnees.trust_gov`;
    `scenario.national_share.default.threshold` -> `national_share.default.threshold`.
    """
    parts = name.split(".")
    keep = 3 if len(parts) >= 3 and parts[-2] in ("default", "initial") else 2
    return ".".join(parts[-keep:])


def plot_sobol_bars(df: pd.DataFrame, outcome: str, path: Path) -> Path:
    """Horizontal S1 and ST bars with CI error bars, factors sorted by ST.

    Args:
        df: rows of `indices.csv` for one outcome.
        outcome: its name (title).
        path: PNG to write.

    Returns:
        `path`.
    """
    s1 = df[df["index"] == "S1"].set_index("factor")
    st = df[df["index"] == "ST"].set_index("factor").sort_values("value")
    s1 = s1.reindex(st.index)
    y = np.arange(len(st))
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(st) + 1.5))
    ax.barh(y + 0.2, st["value"], 0.4, xerr=st["conf"], label="total (ST)", color="#2c7fb8",
            capsize=2)
    ax.barh(y - 0.2, s1["value"], 0.4, xerr=s1["conf"], label="first order (S1)",
            color="#fdae61", capsize=2)
    ax.set_yticks(y, [_short(f) for f in st.index], fontsize=8)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("Sobol index (bars: 95% bootstrap interval)")
    ax.set_title(f"Sobol indices: {outcome}")
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path, dpi=120)


def plot_morris_bars(df: pd.DataFrame, outcome: str, path: Path) -> Path:
    """mu* bars with their bootstrap intervals, sorted."""
    ms = df[df["index"] == "mu_star"].set_index("factor").sort_values("value")
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(ms) + 1.5))
    ax.barh(np.arange(len(ms)), ms["value"], xerr=ms["conf"], color="#2c7fb8", capsize=2)
    ax.set_yticks(np.arange(len(ms)), [_short(f) for f in ms.index], fontsize=8)
    ax.set_xlabel("mu* (mean |elementary effect|; bars: bootstrap interval)")
    ax.set_title(f"Morris screening: {outcome}")
    return save_figure(fig, path, dpi=120)


def plot_morris_scatter(df: pd.DataFrame, outcome: str, path: Path) -> Path:
    """mu* against sigma, labelled; the line sigma = mu* separates (near-)linear factors."""
    wide = df.pivot_table(index="factor", columns="index", values="value")
    conf = df[df["index"] == "mu_star"].set_index("factor")["conf"].reindex(wide.index)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.errorbar(wide["mu_star"], wide["sigma"], xerr=conf, fmt="o", ms=4, capsize=2)
    labelled = wide["mu_star"].nlargest(LABELLED).index
    for name, row in wide.loc[labelled].iterrows():
        ax.annotate(_short(str(name)), (row["mu_star"], row["sigma"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    top = np.nanmax(np.r_[wide["mu_star"].to_numpy(), wide["sigma"].to_numpy(), 1e-12])
    ax.plot([0, top], [0, top], ls="--", color="grey", lw=0.8, label="sigma = mu*")
    ax.set_xlabel("mu*  (overall influence)")
    ax.set_ylabel("sigma  (non-linearity / interactions)")
    ax.set_title(f"Morris mu*-sigma: {outcome} (top {min(LABELLED, len(wide))} labelled)")
    ax.legend(fontsize=8)
    return save_figure(fig, path, dpi=120)


def plot_convergence(conv: pd.DataFrame, method: str, path: Path) -> Path:
    """Per outcome, the main index of each factor against n, with intervals."""
    key = "ST" if method == "sobol" else "mu_star"
    conv = conv[conv["index"] == key]
    outcomes = list(dict.fromkeys(conv["outcome"]))
    fig, axes = plt.subplots(len(outcomes), 1, figsize=(7, 2.6 * len(outcomes)), squeeze=False)
    for ax, outcome in zip(axes[:, 0], outcomes, strict=True):
        part = conv[conv["outcome"] == outcome]
        final = part[part["n"] == part["n"].max()].set_index("factor")["value"]
        top = final.nlargest(TOP_CONVERGENCE).index
        for factor in top:
            g = part[part["factor"] == factor]
            ax.errorbar(g["n"], g["value"], yerr=g["conf"], marker="o", ms=3, capsize=2,
                        label=_short(str(factor)))
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(part["n"].unique()), [str(n) for n in sorted(part["n"].unique())])
        ax.set_title(f"{outcome}: {key} vs n (top {len(top)} at the largest n)", fontsize=9)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    axes[-1, 0].set_xlabel("base samples (Sobol) / trajectories (Morris)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_study(out: Path) -> list[Path]:
    """Draw every figure of the study saved in `out`; return the paths written."""
    out = Path(out)
    method = json.loads((out / "manifest.json").read_text())["settings"]["method"]
    indices = pd.read_csv(out / "indices.csv", keep_default_na=False, na_values=[""])
    indices = indices[indices["factor2"].isna()] if "factor2" in indices else indices
    paths = []
    for outcome, df in indices.groupby("outcome", sort=False):
        if df["value"].isna().all():
            continue
        target = out / f"fig_indices_{_slug(str(outcome))}.png"
        if method == "sobol":
            paths.append(plot_sobol_bars(df, str(outcome), target))
        else:
            paths.append(plot_morris_bars(df, str(outcome), target))
            paths.append(plot_morris_scatter(df, str(outcome),
                                             out / f"fig_morris_{_slug(str(outcome))}.png"))
    conv = pd.read_csv(out / "convergence.csv", keep_default_na=False, na_values=[""])
    conv = conv[conv["factor2"].isna()] if "factor2" in conv else conv
    if not conv.empty and conv["value"].notna().any():
        paths.append(plot_convergence(conv, method, out / "fig_convergence.png"))
    return paths
