"""Statistics for scenario comparisons with common random numbers.

Input is a *runs table*: one row per scenario x replication with columns `scenario`,
`replication`, `seed` and numeric outcome columns (one value per run). Replication r of
every scenario used the same seed, so runs are matched on `replication` and scenario
differences are estimated from paired differences.

Formulas (level = 0.95 by default, alpha = 1 - level):

* mean and t-interval of an outcome over the R runs of a scenario:
  ``mean ± t_{1-alpha/2, R-1} * s / sqrt(R)`` (s = sample standard deviation, ddof=1).
* ``gap_risk`` (overall and per group): share of replications with a material gap, with
  the Wilson score interval; paired differences of gap risk use Newcombe's interval for
  paired proportions and the exact McNemar test (both in `experiments.gap_risk`).
* paired difference of scenario A vs reference B: d_r = A_r - B_r over the replications
  both ran; ``mean(d) ± t_{1-alpha/2, n-1} * sd(d) / sqrt(n)``, and the two-sided paired
  t-test p-value (as `scipy.stats.ttest_rel`).
* unpaired (Welch) interval of the same difference, for contrast: ``mean(A) - mean(B) ±
  t_{1-alpha/2, nu} * sqrt(s_A²/n_A + s_B²/n_B)`` with Welch–Satterthwaite nu. With
  positively correlated runs (common random numbers) the paired interval is narrower.
* ranking: coverage and gap measures together, see `rank_scenarios`.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from experiments.config import ConfigError
from experiments.gap_risk import flag_columns, paired_risk_difference, risk_name, scenario_risks
from experiments.gap_risk import wilson_interval  # noqa: F401  (re-exported: part of this API)

#: Columns that identify a run rather than measure it.
ID_COLUMNS = ("scenario", "replication", "seed")

#: Pareto criteria of the ranking: (column of the summary table, higher is better?).
PARETO_BY: tuple[tuple[str, bool], ...] = (
    ("coverage_mean", True),
    ("gap_risk", False),
    ("gap_episodes_mean", False),
)

#: Order within a Pareto tier: (column, ascending?). Fewer material gaps first, then higher
#: coverage, then fewer gap episodes and dropped cases.
DEFAULT_RANK_BY: tuple[tuple[str, bool], ...] = (
    ("gap_risk", True),
    ("coverage_mean", False),
    ("gap_episodes_mean", True),
    ("dropped_cases_mean", True),
)


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of the mean.

    Args:
        values: sample (NaNs are dropped).
        level: confidence level in (0, 1).

    Returns:
        (mean, lower, upper); lower/upper are NaN when fewer than 2 values. A sample with
        zero spread gives a zero-width interval.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return (math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if n < 2:
        return (mean, math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return (mean, mean - half, mean + half)


def welch_interval(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> tuple[float, float, float]:
    """Difference of means mean(a) - mean(b) with the unpaired Welch t-interval.

    Args:
        a: first sample.
        b: second sample.
        level: confidence level.

    Returns:
        (difference, lower, upper); bounds NaN if either sample has < 2 values. Two
        zero-spread samples give a zero-width interval.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size == 0 or y.size == 0:
        return (math.nan, math.nan, math.nan)
    diff = float(x.mean() - y.mean())
    if x.size < 2 or y.size < 2:
        return (diff, math.nan, math.nan)
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    se = math.sqrt(va + vb)
    if se == 0:
        return (diff, diff, diff)
    nu = (va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1))
    half = float(stats.t.ppf(0.5 + level / 2, nu) * se)
    return (diff, diff - half, diff + half)


def paired_t(
    a: Sequence[float], b: Sequence[float], level: float = 0.95
) -> tuple[float, float, float, float]:
    """Mean paired difference a - b with t-interval and two-sided p-value.

    Args:
        a: values of the compared scenario, aligned with `b` (same replication order).
        b: values of the reference scenario.
        level: confidence level.

    Returns:
        (mean difference, lower, upper, p_value). p is 1.0 when all differences are 0,
        0.0 when they are all equal and non-zero, NaN with fewer than 2 pairs.
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[~np.isnan(d)]
    mean, lo, hi = t_interval(d, level)
    if d.size < 2:
        return (mean, lo, hi, math.nan)
    sd = d.std(ddof=1)
    if sd == 0:
        return (mean, lo, hi, 1.0 if mean == 0 else 0.0)
    tstat = mean / (sd / math.sqrt(d.size))
    p = float(2 * stats.t.sf(abs(tstat), d.size - 1))
    return (mean, lo, hi, p)


def _check_runs(runs: pd.DataFrame, outcomes: Iterable[str]) -> None:
    missing = [c for c in ("scenario", "replication", *outcomes) if c not in runs.columns]
    if missing:
        raise ConfigError(
            f"runs table lacks columns {', '.join(missing)}; has: {', '.join(runs.columns)}"
        )


def outcome_columns(runs: pd.DataFrame) -> list[str]:
    """Numeric columns of a runs table other than the identifying ones, in table order."""
    return [
        c
        for c in runs.columns
        if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(runs[c])
    ]


def scenario_summary(
    runs: pd.DataFrame,
    outcomes: Sequence[str],
    level: float = 0.95,
) -> pd.DataFrame:
    """Per-scenario means with t-intervals, and gap risk per group with Wilson intervals.

    Args:
        runs: runs table (see module docstring).
        outcomes: outcome columns to summarise.
        level: confidence level.

    Returns:
        DataFrame, one row per scenario (first-appearance order), columns `scenario`,
        `n` (runs with at least one non-missing outcome), then `<o>_mean, <o>_lo, <o>_hi` per
        outcome, then the gap-risk columns of `experiments.gap_risk.scenario_risks` (when
        the runs have `material_gap` flags).
    """
    _check_runs(runs, outcomes)
    flags = list(flag_columns(runs).values())
    rows = []
    for name, grp in runs.groupby("scenario", sort=False):
        valid = grp[list(outcomes)].notna().any(axis=1) if len(outcomes) else grp["scenario"].notna()
        row: dict[str, float | str | int] = {"scenario": name, "n": int(valid.sum())}
        for col in outcomes:
            row[f"{col}_mean"], row[f"{col}_lo"], row[f"{col}_hi"] = t_interval(grp[col], level)
        row |= scenario_risks(grp[flags], level)
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(
    runs: pd.DataFrame,
    outcomes: Sequence[str],
    reference: str,
    level: float = 0.95,
    gap_groups: Sequence[str] | None = ("", "programme", "vulnerable"),
) -> pd.DataFrame:
    """Paired (and, for contrast, unpaired Welch) differences vs a reference scenario.

    Runs are matched on `replication`; replications missing in either scenario are left
    out of the paired estimate. Gap risk of each group in `gap_groups` whose
    `material_gap` flag the runs have is compared too, as outcome `gap_risk` /
    `gap_risk_<group>`, with Newcombe's paired interval and the exact McNemar p-value
    (`experiments.gap_risk.paired_risk_difference`; no unpaired interval).

    Args:
        runs: runs table.
        outcomes: outcome columns to compare.
        reference: the reference scenario name.
        level: confidence level.
        gap_groups: groups whose gap risk is compared ("" = everyone), or None.

    Returns:
        Long DataFrame with columns scenario, outcome, n_pairs, diff, diff_lo, diff_hi,
        p_value, unpaired_lo, unpaired_hi; one row per non-reference scenario x outcome.

    Raises:
        ConfigError: `reference` is not a scenario of the table.
    """
    _check_runs(runs, outcomes)
    names = list(dict.fromkeys(runs["scenario"]))
    if reference not in names:
        raise ConfigError(f"reference: '{reference}' not among scenarios; allowed: {', '.join(names)}")
    flags = {g: c for g, c in flag_columns(runs).items() if gap_groups is not None and g in gap_groups}
    wide = {name: grp.set_index("replication") for name, grp in runs.groupby("scenario")}
    ref = wide[reference]
    rows = []
    for name in names:
        if name == reference:
            continue
        cur = wide[name]
        common = cur.index.intersection(ref.index)
        compared = [(col, col, False) for col in outcomes] + [(c, risk_name(g), True) for g, c in flags.items()]
        for col, label, is_flag in compared:
            a = cur.loc[common, col].to_numpy(float)
            b = ref.loc[common, col].to_numpy(float)
            if is_flag:
                diff, lo, hi, p = paired_risk_difference(a, b, level)
                ulo = uhi = math.nan
            else:
                diff, lo, hi, p = paired_t(a, b, level)
                _, ulo, uhi = welch_interval(cur[col], ref[col], level)
            rows.append({"scenario": name, "outcome": label, "n_pairs": int(np.sum(~np.isnan(a - b))),
                         "diff": diff, "diff_lo": lo, "diff_hi": hi, "p_value": p,
                         "unpaired_lo": ulo, "unpaired_hi": uhi})
    return pd.DataFrame(
        rows,
        columns=[
            "scenario", "outcome", "n_pairs", "diff", "diff_lo", "diff_hi", "p_value",
            "unpaired_lo", "unpaired_hi",
        ],
    )


def pareto_tiers(summary: pd.DataFrame, criteria: Sequence[tuple[str, bool]] = PARETO_BY) -> pd.Series:
    """Non-dominated sorting: tier 1 = scenarios no other scenario beats on every criterion.

    A scenario dominates another when it is at least as good on every criterion and
    strictly better on one (NaN counts as worst). Tier 2 is the front once tier 1 is
    removed, and so on. Criteria absent from `summary` are skipped.

    Args:
        summary: one row per scenario.
        criteria: (column, higher is better?) pairs.

    Returns:
        Integer Series aligned with `summary.index`, named `tier`.
    """
    cols = [(c, hi) for c, hi in criteria if c in summary.columns]
    if not cols:
        return pd.Series(1, index=summary.index, name="tier")
    # Scores where higher is better, NaN -> -inf.
    score = np.column_stack([
        np.nan_to_num(summary[c].to_numpy(float) * (1 if hi else -1), nan=-np.inf) for c, hi in cols
    ])
    tier = np.zeros(len(summary), dtype=int)
    level = 0
    while (tier == 0).any():
        level += 1
        left = np.flatnonzero(tier == 0)
        for i in left:
            others = score[left]
            beaten = ((others >= score[i]).all(axis=1) & (others > score[i]).any(axis=1)).any()
            if not beaten:
                tier[i] = level
    return pd.Series(tier, index=summary.index, name="tier")


def rank_scenarios(
    summary: pd.DataFrame,
    rank_by: Sequence[tuple[str, bool]] = DEFAULT_RANK_BY,
    pareto_by: Sequence[tuple[str, bool]] = PARETO_BY,
) -> pd.Series:
    """Rank scenarios on coverage and gaps together (1 = best).

    First by Pareto tier on mean coverage, gap risk and mean gap episodes
    (`pareto_tiers`): a scenario that another beats on all three ranks below it. Within
    a tier, lexicographically by `rank_by` (default: lower gap risk, then higher mean
    coverage, then fewer gap episodes, then fewer dropped cases), so a design that holds
    coverage without material gaps ranks above one that reaches more coverage but
    crashes. Keys absent from `summary` are skipped; exact ties share the smallest rank.

    Args:
        summary: output of `scenario_summary`.
        rank_by: (column, ascending) pairs used within a tier, most important first.
        pareto_by: (column, higher is better) criteria of the tiers.

    Returns:
        Integer Series aligned with `summary.index`, named `rank`.
    """
    frame = summary.assign(_tier=pareto_tiers(summary, pareto_by))
    keys = [("_tier", True)] + [(c, asc) for c, asc in rank_by if c in summary.columns]
    ordered = frame.sort_values(
        [c for c, _ in keys], ascending=[a for _, a in keys], kind="mergesort", na_position="last",
    )
    tuples = [tuple(r) for r in ordered[[c for c, _ in keys]].itertuples(index=False)]
    ranks, prev, current = {}, None, 0
    for pos, (idx, tup) in enumerate(zip(ordered.index, tuples), start=1):
        if tup != prev:
            current, prev = pos, tup
        ranks[idx] = current
    return pd.Series([ranks[i] for i in summary.index], index=summary.index, name="rank")


def comparison_table(
    runs: pd.DataFrame,
    outcomes: Sequence[str],
    reference: str,
    level: float = 0.95,
    rank_by: Sequence[tuple[str, bool]] = DEFAULT_RANK_BY,
) -> pd.DataFrame:
    """One row per scenario: summary, paired differences vs the reference, tier and rank.

    Columns: `scenario`, `n`, `<o>_mean/_lo/_hi` per outcome, the gap-risk columns, then
    per compared quantity q (outcomes, `gap_risk`, `gap_risk_programme`,
    `gap_risk_vulnerable`) `diff_<q>`, `diff_<q>_lo`, `diff_<q>_hi`, `diff_<q>_p` (paired
    vs the reference; zero / NaN for the reference row itself), `tier` and `rank`.

    Args:
        runs: runs table.
        outcomes: outcome columns.
        reference: reference scenario for paired differences.
        level: confidence level.
        rank_by: order within a Pareto tier (see `rank_scenarios`).

    Returns:
        The comparison DataFrame with `scenario` as first column.
    """
    summary = scenario_summary(runs, outcomes, level)
    diffs = paired_differences(runs, outcomes, reference, level)
    table = summary.copy()
    for q in diffs["outcome"].unique() if len(diffs) else []:
        sub = diffs[diffs["outcome"] == q].set_index("scenario")
        for suffix, src in (("", "diff"), ("_lo", "diff_lo"), ("_hi", "diff_hi"), ("_p", "p_value")):
            col = f"diff_{q}{suffix}"
            table[col] = table["scenario"].map(sub[src])
            is_ref = table["scenario"] == reference
            table.loc[is_ref, col] = 0.0 if suffix != "_p" else math.nan
    table["tier"] = pareto_tiers(table).astype(int)
    table["rank"] = rank_scenarios(table, rank_by).astype(int)
    return table
