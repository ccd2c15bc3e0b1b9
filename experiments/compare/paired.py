"""Statistics for scenario comparisons with common random numbers.

Input is a *runs table*: one row per scenario x replication with columns `scenario`,
`replication`, `seed` and numeric outcome columns (one value per run). Replication r of
every scenario used the same seed, so runs are matched on `replication` and scenario
differences are estimated from paired differences.

Formulas (level = 0.95 by default, alpha = 1 - level):

* mean and t-interval of an outcome over the R runs of a scenario:
  ``mean ± t_{1-alpha/2, R-1} * s / sqrt(R)`` (s = sample standard deviation, ddof=1).
* ``gap_risk`` = k / R, the share of replications with ``gap_months >= threshold``,
  with the Wilson score interval
  ``(p + z²/2R ± z * sqrt(p(1-p)/R + z²/4R²)) / (1 + z²/R)``, z = Φ⁻¹(1 - alpha/2).
* paired difference of scenario A vs reference B: d_r = A_r - B_r over the replications
  both ran; ``mean(d) ± t_{1-alpha/2, n-1} * sd(d) / sqrt(n)``, and the two-sided paired
  t-test p-value (as `scipy.stats.ttest_rel`).
* unpaired (Welch) interval of the same difference, for contrast: ``mean(A) - mean(B) ±
  t_{1-alpha/2, nu} * sqrt(s_A²/n_A + s_B²/n_B)`` with Welch–Satterthwaite nu. With
  positively correlated runs (common random numbers) the paired interval is narrower.
* ranking: see `rank_scenarios`.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from experiments.config import ConfigError

#: Columns that identify a run rather than measure it.
ID_COLUMNS = ("scenario", "replication", "seed")

#: Default ranking: (column of the summary table, ascending?). Higher coverage first,
#: then lower gap risk, then fewer dropped cases.
DEFAULT_RANK_BY: tuple[tuple[str, bool], ...] = (
    ("coverage_mean", False),
    ("gap_risk", True),
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


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Proportion k/n with its Wilson score interval.

    Args:
        k: number of successes (0 <= k <= n).
        n: number of trials.
        level: confidence level in (0, 1).

    Returns:
        (p, lower, upper); all NaN when n == 0.
    """
    if n == 0:
        return (math.nan, math.nan, math.nan)
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n], got k={k}, n={n}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (p, lo, hi)


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
    gap_threshold: float = 3,
    level: float = 0.95,
    gap_column: str = "gap_months",
) -> pd.DataFrame:
    """Per-scenario means with t-intervals, and gap risk with a Wilson interval.

    Args:
        runs: runs table (see module docstring).
        outcomes: outcome columns to summarise.
        gap_threshold: a replication counts as a gap when `gap_column >= gap_threshold`.
        level: confidence level.
        gap_column: per-run column counted for gap risk; skipped if absent.

    Returns:
        DataFrame, one row per scenario (first-appearance order), columns `scenario`,
        `n` (runs with at least one non-missing outcome), then `<o>_mean, <o>_lo, <o>_hi` per outcome, then `gap_risk`,
        `gap_risk_lo`, `gap_risk_hi`, `gap_count` (when `gap_column` is present).
    """
    _check_runs(runs, outcomes)
    rows = []
    for name, grp in runs.groupby("scenario", sort=False):
        valid = grp[list(outcomes)].notna().any(axis=1) if len(outcomes) else grp["scenario"].notna()
        row: dict[str, float | str | int] = {"scenario": name, "n": int(valid.sum())}
        for col in outcomes:
            row[f"{col}_mean"], row[f"{col}_lo"], row[f"{col}_hi"] = t_interval(grp[col], level)
        if gap_column in grp:
            gaps = grp[gap_column].dropna()
            k = int((gaps >= gap_threshold).sum())
            row["gap_risk"], row["gap_risk_lo"], row["gap_risk_hi"] = wilson_interval(
                k, int(gaps.size), level
            )
            row["gap_count"] = k
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(
    runs: pd.DataFrame,
    outcomes: Sequence[str],
    reference: str,
    level: float = 0.95,
    gap_threshold: float | None = 3,
    gap_column: str = "gap_months",
) -> pd.DataFrame:
    """Paired (and, for contrast, unpaired Welch) differences vs a reference scenario.

    Runs are matched on `replication`; replications missing in either scenario are left
    out of the paired estimate. With `gap_threshold` set and `gap_column` present, the
    gap indicator (`gap_column >= gap_threshold`, 0/1) is compared too, under the outcome
    name `gap_risk` (a t-interval on 0/1 paired differences: approximate for small R).

    Args:
        runs: runs table.
        outcomes: outcome columns to compare.
        reference: the reference scenario name.
        level: confidence level.
        gap_threshold: threshold for the gap indicator, or None to skip it.
        gap_column: per-run gap column.

    Returns:
        Long DataFrame with columns scenario, outcome, n_pairs, diff, diff_lo, diff_hi,
        p_value (two-sided paired t), unpaired_lo, unpaired_hi; one row per non-reference
        scenario x outcome.

    Raises:
        ConfigError: `reference` is not a scenario of the table.
    """
    _check_runs(runs, outcomes)
    names = list(dict.fromkeys(runs["scenario"]))
    if reference not in names:
        raise ConfigError(f"reference: '{reference}' not among scenarios; allowed: {', '.join(names)}")
    frame = runs.copy()
    cols = list(outcomes)
    if gap_threshold is not None and gap_column in frame:
        frame["gap_risk"] = (frame[gap_column] >= gap_threshold).astype(float)
        frame.loc[frame[gap_column].isna(), "gap_risk"] = np.nan
        cols.append("gap_risk")
    wide = {name: grp.set_index("replication") for name, grp in frame.groupby("scenario")}
    ref = wide[reference]
    rows = []
    for name in names:
        if name == reference:
            continue
        cur = wide[name]
        common = cur.index.intersection(ref.index)
        for col in cols:
            a = cur.loc[common, col].to_numpy(float)
            b = ref.loc[common, col].to_numpy(float)
            diff, lo, hi, p = paired_t(a, b, level)
            _, ulo, uhi = welch_interval(cur[col], ref[col], level)
            rows.append(
                {
                    "scenario": name,
                    "outcome": col,
                    "n_pairs": int(np.sum(~np.isnan(a - b))),
                    "diff": diff,
                    "diff_lo": lo,
                    "diff_hi": hi,
                    "p_value": p,
                    "unpaired_lo": ulo,
                    "unpaired_hi": uhi,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "scenario", "outcome", "n_pairs", "diff", "diff_lo", "diff_hi", "p_value",
            "unpaired_lo", "unpaired_hi",
        ],
    )


def rank_scenarios(
    summary: pd.DataFrame, rank_by: Sequence[tuple[str, bool]] = DEFAULT_RANK_BY
) -> pd.Series:
    """Rank scenarios lexicographically by summary columns (1 = best).

    Default order: highest mean coverage first; ties broken by lowest gap risk, then by
    fewest mean dropped cases. Keys absent from `summary` are skipped; exact ties on all
    keys share the smallest rank ("min" method).

    Args:
        summary: output of `scenario_summary`.
        rank_by: (column, ascending) pairs, most important first.

    Returns:
        Integer Series aligned with `summary.index`, named `rank`.
    """
    keys = [(c, asc) for c, asc in rank_by if c in summary.columns]
    if not keys:
        return pd.Series(1, index=summary.index, name="rank")
    # Sort-order tuple per row; equal tuples get equal ranks.
    ordered = summary.sort_values(
        [c for c, _ in keys], ascending=[a for _, a in keys], kind="mergesort",
        na_position="last",
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
    gap_threshold: float = 3,
    level: float = 0.95,
    rank_by: Sequence[tuple[str, bool]] = DEFAULT_RANK_BY,
) -> pd.DataFrame:
    """One row per scenario: summary, paired differences vs the reference, rank.

    Columns: `scenario`, `n`, `<o>_mean/_lo/_hi` per outcome, `gap_risk`,
    `gap_risk_lo/_hi`, `gap_count`, then per compared quantity q (outcomes and
    `gap_risk`) `diff_<q>`, `diff_<q>_lo`, `diff_<q>_hi`, `diff_<q>_p` (paired vs the
    reference; zero / NaN for the reference row itself), and `rank`.

    Args:
        runs: runs table.
        outcomes: outcome columns.
        reference: reference scenario for paired differences.
        gap_threshold: gap-risk threshold in months.
        level: confidence level.
        rank_by: ranking keys (see `rank_scenarios`).

    Returns:
        The comparison DataFrame with `scenario` as first column.
    """
    summary = scenario_summary(runs, outcomes, gap_threshold, level)
    diffs = paired_differences(runs, outcomes, reference, level, gap_threshold)
    table = summary.copy()
    for q in diffs["outcome"].unique() if len(diffs) else []:
        sub = diffs[diffs["outcome"] == q].set_index("scenario")
        for suffix, src in (("", "diff"), ("_lo", "diff_lo"), ("_hi", "diff_hi"), ("_p", "p_value")):
            col = f"diff_{q}{suffix}"
            table[col] = table["scenario"].map(sub[src])
            is_ref = table["scenario"] == reference
            table.loc[is_ref, col] = 0.0 if suffix != "_p" else math.nan
    table["rank"] = rank_scenarios(table, rank_by).astype(int)
    return table
