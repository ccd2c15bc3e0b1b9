"""What would change this ranking: decisive assumptions one at a time, at the ends of their ranges.

`handover compare assumptions.run=true` re-runs every scenario x replication once per
decisive assumption and end of its range (low, high), with the same replication seeds as
the main comparison (common random numbers), and reports for each assumption and end the
paired differences against the reference scenario and whether the ranking changes.

An *assumption* is a named list of factors of a declared sensitivity space
(`configs/sa/<space>.yaml`); its factors are set together to the low (then the high) end
of their declared bounds, everything else at the profile's values. Settings, in
configs/compare.yaml::

    assumptions:
      run: false
      space: default
      only: null              # or a list of assumption names to probe
      decisive:
        commitment_honoured: [country.funders.treasury.commitment_honoured]
        national_unit_cost: [country.providers.ncfrmi.staff_cost, ...]

Outputs (in the comparison folder): `assumptions.csv` (one row per assumption x end x
scenario), `assumptions_summary.csv` (one row per assumption x end), `assumptions.png`
(tornado) and a section of report.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from experiments.compare.paired import comparison_table
from experiments.config import ConfigError, get_dotted
from experiments.space import BOUNDED, Factor, Space, apply_values, check_paths, load_space

ENDS = ("low", "high")


def parse_assumptions(cfg: dict[str, Any]) -> dict[str, list[Factor]] | None:
    """The decisive assumptions to probe, or None when `assumptions.run` is false.

    Args:
        cfg: composed compare config.

    Returns:
        Assumption name -> its factors (bounded distributions only), in declared order.

    Raises:
        ConfigError: unknown space or factor, an unbounded factor, an empty list.
    """
    spec = cfg.get("assumptions") or {}
    if not isinstance(spec, dict):
        raise ConfigError("assumptions: must be a mapping with run, space, decisive")
    extra = sorted(set(spec) - {"run", "space", "decisive", "only"})
    if extra:
        raise ConfigError(f"assumptions.{extra[0]}: unknown key; allowed: run, space, decisive, only")
    if not isinstance(spec.get("run", False), bool):
        raise ConfigError(f"assumptions.run: must be true or false, got {spec.get('run')!r}")
    if not spec.get("run", False):
        return None
    space = load_space(spec.get("space", "default"))
    decisive = spec.get("decisive")
    if not isinstance(decisive, dict) or not decisive:
        raise ConfigError("assumptions.decisive: must map assumption names to lists of factor names")
    only = spec.get("only")
    if only is not None:
        unknown = [n for n in only if n not in decisive] if isinstance(only, list) else [only]
        if unknown or not only:
            raise ConfigError(f"assumptions.only: unknown assumption(s) {unknown}; allowed: "
                              f"{', '.join(decisive)}")
        decisive = {n: decisive[n] for n in only}
    out: dict[str, list[Factor]] = {}
    for name, names in decisive.items():
        if not isinstance(names, list) or not names:
            raise ConfigError(f"assumptions.decisive.{name}: must be a non-empty list of factor names")
        try:
            factors = list(space.subset([str(n) for n in names]).factors)
        except ConfigError as err:
            raise ConfigError(f"assumptions.decisive.{name}: {err}") from None
        for f in factors:
            if f.kind == "categorical" or f.dist not in BOUNDED:
                raise ConfigError(
                    f"assumptions.decisive.{name}: factor {f.name} has dist '{f.dist}' without "
                    f"bounds; allowed: {', '.join(BOUNDED)}")
        out[str(name)] = factors
    return out


def levels(assumptions: dict[str, list[Factor]], run_config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every (assumption, end) with the factors' values and what the configuration receives.

    Returns:
        Dicts with assumption, end, space (the assumption's factors), values (factor name
        -> the low or high bound) and `shown` (each path's resulting value, as text).
    """
    out = []
    for name, factors in assumptions.items():
        space = Space(name=name, factors=tuple(factors))
        check_paths(space, run_config)
        for i, end in enumerate(ENDS):
            values = {f.name: f.bounds[i] for f in factors}
            cfg = apply_values(run_config, space, values)
            shown = ", ".join(f"{_label(f.path)}={_fmt(get_dotted(cfg, f.path))}" for f in factors)
            out.append({"assumption": name, "end": end, "space": space, "values": values,
                        "shown": shown})
    return out


def _label(path: str) -> str:
    """Short label of a factor path: `country.providers.ncfrmi.staff_cost` -> `ncfrmi.staff_cost`."""
    parts = path.split(".")
    return ".".join(parts[2:]) if len(parts) > 3 else parts[-1]


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def build_jobs(base_jobs: list[dict[str, Any]], assumptions: dict[str, list[Factor]]
               ) -> list[dict[str, Any]]:
    """Job specs: every base job (scenario x replication) once per assumption and end.

    The seed of each job is the base job's seed, so differences are paired with the main
    comparison and between scenarios (common random numbers).
    """
    jobs = []
    for lev in levels(assumptions, base_jobs[0]["config"]):
        for job in base_jobs:
            jobs.append({
                "config": apply_values(job["config"], lev["space"], lev["values"]),
                "seed": job["seed"], "scenario": job["scenario"],
                "replication": job["replication"], "assumption": lev["assumption"],
                "end": lev["end"], "values": lev["shown"],
            })
    return jobs


def _order(table: pd.DataFrame) -> list[str]:
    return list(table.sort_values(["rank", "scenario"])["scenario"])


def analyse(base_runs: pd.DataFrame, runs: pd.DataFrame, outcomes: list[str], reference: str,
            level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired differences against the reference and ranks, per assumption and end.

    Args:
        base_runs: runs table of the main comparison (the reference ranking).
        runs: runs table of the assumption jobs (columns assumption, end, values).
        outcomes: outcome columns to summarise.
        reference: reference scenario.
        level: confidence level.

    Returns:
        (detail, summary). detail: one row per assumption x end x scenario with coverage
        mean, the paired coverage difference from the reference with its CI, rank and
        base rank. summary: one row per assumption x end with the ranking at that end,
        whether it differs from the base ranking, and which scenarios moved.
    """
    base = comparison_table(base_runs, outcomes, reference, level)
    base_rank = base.set_index("scenario")["rank"]
    base_order = _order(base)
    detail, summary = [], []
    for (name, end), grp in runs.groupby(["assumption", "end"], sort=False):
        table = comparison_table(grp.drop(columns=["assumption", "end", "values"]), outcomes,
                                 reference, level)
        order = _order(table)
        for _, row in table.iterrows():
            detail.append({
                "assumption": name, "end": end, "values": grp["values"].iloc[0],
                "scenario": row["scenario"], "coverage": row["coverage_mean"],
                "diff_coverage": row["diff_coverage"], "diff_coverage_lo": row["diff_coverage_lo"],
                "diff_coverage_hi": row["diff_coverage_hi"],
                "base_diff_coverage": base.set_index("scenario").loc[row["scenario"], "diff_coverage"],
                "rank": int(row["rank"]), "base_rank": int(base_rank[row["scenario"]]),
            })
        moved = [s for s in order if table.set_index("scenario").loc[s, "rank"] != base_rank[s]]
        summary.append({
            "assumption": name, "end": end, "values": grp["values"].iloc[0],
            "ranking": " > ".join(order), "ranking_changes": order != base_order,
            "top": order[0], "top_changes": order[0] != base_order[0],
            "moved": ", ".join(f"{s} {base_rank[s]}→{table.set_index('scenario').loc[s, 'rank']}"
                               for s in moved),
        })
    return pd.DataFrame(detail), pd.DataFrame(summary)


def sentences(summary: pd.DataFrame, base_order: list[str]) -> list[str]:
    """One plain sentence per (assumption, end) that changes the ranking."""
    out = []
    for _, row in summary[summary["ranking_changes"]].iterrows():
        top = (f"{row['top']} becomes the best design (instead of {base_order[0]})"
               if row["top_changes"] else f"{row['top']} stays first")
        out.append(f"With {row['assumption']} at the {row['end']} end of its range "
                   f"({row['values']}), the ranking changes: {top}; moved: {row['moved']}.")
    return out


def plot_tornado(detail: pd.DataFrame, reference: str, path: Path) -> Path:
    """Tornado per design: the paired coverage difference from the reference (points) at
    each assumption's low and high end, around the base difference (black line).

    Args:
        detail: the detail table of `analyse`.
        reference: the reference scenario (not drawn).
        path: PNG destination.

    Returns:
        The PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from experiments.study.atomic import save_figure

    d = detail[detail["scenario"] != reference]
    names = list(dict.fromkeys(d["scenario"]))
    cols = min(3, max(1, len(names)))
    rows = int(np.ceil(len(names) / cols))
    assumptions = list(dict.fromkeys(d["assumption"]))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 0.4 * len(assumptions) * rows + 1.5 * rows),
                             squeeze=False, sharey=True)
    for ax, name in zip(axes.ravel(), names):
        sub = d[d["scenario"] == name].set_index(["assumption", "end"])
        base = float(d[d["scenario"] == name]["base_diff_coverage"].iloc[0]) * 100
        # Widest swing at the top.
        swing = {a: abs(sub.loc[(a, "high"), "diff_coverage"] - sub.loc[(a, "low"), "diff_coverage"])
                 for a in assumptions}
        order = sorted(assumptions, key=lambda a: swing[a])
        y = np.arange(len(order))
        for yi, a in zip(y, order):
            lo, hi = (float(sub.loc[(a, e), "diff_coverage"]) * 100 for e in ENDS)
            ax.barh(yi, lo - base, left=base, color="tab:blue", alpha=0.8,
                    label="low end" if yi == 0 else None)
            ax.barh(yi, hi - base, left=base, color="tab:orange", alpha=0.8,
                    label="high end" if yi == 0 else None)
        ax.axvline(base, color="black", lw=1)
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y, order)
        ax.set_title(f"{name} − {reference}", fontsize=9)
        ax.set_xlabel("Δ coverage (percentage points)")
        ax.grid(axis="x", alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, path)
