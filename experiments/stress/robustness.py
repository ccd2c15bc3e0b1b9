"""Robustness of exit strategies across futures: pure functions on tidy outcome tables.

The input is a *tidy table*: one row per scenario x future (replications already
averaged, see `tidy_outcomes`), with outcome columns such as `coverage`, `gap_risk`,
`gap_months`, `donor_spend`, `national_spend`. Nothing here runs the model, reads or
writes files.

Definitions (per scenario s, over the futures f where every scenario has a result):

- mean, worst and 95 % bad-case quantile of each metric. "Worst" is the minimum for a
  metric where higher is better (coverage) and the maximum where lower is better (gap
  metrics). The bad-case quantile is the 5th percentile for higher-is-better metrics
  (`coverage_p05`) and the 95th percentile for lower-is-better ones (`gap_risk_p95`):
  the scenario does at least that well in 95 % of futures (linear interpolation,
  `numpy.quantile` default).
- regret in future f: distance to the best scenario in that future,
  `max_s' m(s', f) - m(s, f)` (higher is better) or `m(s, f) - min_s' m(s', f)`
  (lower is better); always >= 0 and 0 for the best scenario. Reported as max and mean
  over futures.
- satisficing share: share of futures with `coverage >= coverage_target` and
  `<gap_metric> <= gap_tolerance`.
- spend: mean donor and national spend over futures, worst (max) national spend, and
  national share of total mean spend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import pandas as pd

from experiments.config import ConfigError
from experiments.gap_risk import flag_columns, replication_risk, risk_name

#: metric -> direction ("max": higher is better, "min": lower is better)
DIRECTIONS: dict[str, str] = {
    "coverage": "max",
    "coverage_vulnerable": "max",
    "sustainable_share_12m": "max",
    "gap_risk": "min",
    "gap_risk_programme": "min",
    "gap_risk_vulnerable": "min",
    "gap_risk_any_group": "min",
    "gap_months": "min",
    "gap_episodes": "min",
    "gap_episodes_vs_continuation": "min",
    "dropped_cases": "min",
    "unmet_need_months": "min",
    "gap_depth": "min",
}

#: metrics summarised by default (mean / worst / quantile / regret)
DEFAULT_METRICS: tuple[str, ...] = ("coverage", "gap_risk", "gap_months")

#: the subgroup view, summarised too when the runs have it (the simulator's do)
SUBGROUP_METRICS: tuple[str, ...] = ("gap_risk_programme", "gap_risk_vulnerable", "gap_risk_any_group",
                                     "gap_episodes", "gap_episodes_vs_continuation")

#: the counterfactual scenario handover-attributable losses are measured against
COUNTERFACTUAL = "continuation"

#: spend columns summarised (means; national also worst case)
SPEND_COLUMNS: tuple[str, ...] = ("donor_spend", "national_spend")

_KEYS = ("scenario", "future")


@dataclass(frozen=True)
class Thresholds:
    """User thresholds for the satisficing test.

    Attributes:
        coverage_target: coverage must be at least this (0-1).
        gap_metric: gap metric tested, `gap_risk` (0-1) or `gap_months` (months).
        gap_tolerance: the gap metric must be at most this.
    """

    coverage_target: float = 0.6
    gap_metric: str = "gap_risk"
    gap_tolerance: float = 0.2

    def __post_init__(self) -> None:
        for name in ("coverage_target", "gap_tolerance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"thresholds.{name}: expected a number, got {value!r}")
        allowed = [m for m, d in DIRECTIONS.items() if d == "min"]
        if self.gap_metric not in allowed:
            raise ConfigError(
                f"thresholds.gap_metric: unknown '{self.gap_metric}'; allowed: {', '.join(allowed)}"
            )
        if not 0.0 <= float(self.coverage_target) <= 1.0:
            raise ConfigError(
                f"thresholds.coverage_target: {self.coverage_target} outside allowed range [0, 1]"
            )
        if float(self.gap_tolerance) < 0:
            raise ConfigError(f"thresholds.gap_tolerance: {self.gap_tolerance} must be >= 0")

    def describe(self) -> str:
        """Plain-language statement of the thresholds, e.g. for reports."""
        unit = " months" if self.gap_metric == "gap_months" else ""
        return (
            f"coverage >= {self.coverage_target:g} and "
            f"{self.gap_metric} <= {self.gap_tolerance:g}{unit}"
        )


def tidy_outcomes(runs: pd.DataFrame, keys: Iterable[str] = _KEYS) -> pd.DataFrame:
    """Average replications into one row per scenario x future.

    Rows with a non-empty `error` column (failed jobs) are dropped. Numeric outcome
    columns are averaged (missing values skipped); `gap_risk` and `gap_risk_<group>` are
    the shares of replications with a material gap (`material_gap[_<group>]` flags, those
    defined; `experiments.gap_risk`), `gap_risk_any_group` the largest group risk;
    `replications` counts the runs averaged.

    Args:
        runs: one row per run with the key columns, `replication` and outcome columns.
        keys: grouping columns.

    Returns:
        The tidy table, sorted by the keys, with a default index.
    """
    keys = list(keys)
    missing = [k for k in keys if k not in runs.columns]
    if missing:
        raise ConfigError(f"runs table lacks key columns {missing}; has {list(runs.columns)}")
    frame = runs
    if "error" in frame.columns:
        frame = frame[frame["error"].isna() | (frame["error"].astype(str) == "")]
    skip = set(keys) | {"replication", "seed", "job"}
    numeric = [
        c for c in frame.columns if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
    ]
    grouped = frame.groupby(keys, sort=True)
    out = grouped[numeric].mean()
    groups = [frame[k] for k in keys]
    flags = flag_columns(frame)
    risks = pd.DataFrame({risk_name(g): replication_risk(frame[c].astype(float), groups)
                          for g, c in flags.items()}, index=out.index)
    named = [risk_name(g) for g in flags if g]
    if named:
        risks["gap_risk_any_group"] = risks[named].max(axis=1)
    out = pd.concat([out.drop(columns=list(flags.values())), risks,
                     grouped.size().rename("replications")], axis=1)
    return out.copy().reset_index()  # copy: one block per dtype before the keys are inserted


def versus_reference(table: pd.DataFrame, reference: str = COUNTERFACTUAL,
                     columns: Iterable[str] = ("gap_episodes",)) -> pd.DataFrame:
    """Add `<column>_vs_<reference>`: each scenario's value minus the reference scenario's
    value in the same future (same seeds, so a paired difference; the handover-attributable
    loss when the reference is `continuation`). Unchanged if the reference is absent.

    Args:
        table: tidy table (scenario, future, outcomes).
        reference: reference scenario name.
        columns: outcome columns to difference.

    Returns:
        A copy of `table` with the new columns (NaN where the reference lacks the future).
    """
    cols = [c for c in columns if c in table.columns]
    ref = table[table["scenario"] == reference].set_index("future")
    out = table.copy()
    if ref.empty:
        return out
    for col in cols:
        out[f"{col}_vs_{reference}"] = out[col].to_numpy() - out["future"].map(ref[col]).to_numpy()
    return out


def complete_futures(table: pd.DataFrame, metrics: Iterable[str]) -> pd.DataFrame:
    """Keep only futures in which every scenario has a value for every metric.

    Regret compares scenarios within a future, so comparisons must be paired.

    Args:
        table: tidy table (scenario, future, metrics...).
        metrics: metric columns that must be present and non-missing.

    Returns:
        The filtered table (same columns).
    """
    metrics = list(metrics)
    _require(table, list(_KEYS) + metrics)
    scenarios = table["scenario"].nunique()
    ok = table.dropna(subset=metrics)
    counts = ok.groupby("future")["scenario"].nunique()
    keep = counts.index[counts == scenarios]
    return ok[ok["future"].isin(keep)].reset_index(drop=True)


def regret(table: pd.DataFrame, metric: str) -> pd.Series:
    """Regret of each row against the best scenario in the same future.

    Args:
        table: tidy table with `future` and `metric` columns.
        metric: a metric named in `DIRECTIONS`.

    Returns:
        Series aligned with `table` (>= 0; 0 for the best scenario of each future).
    """
    direction = _direction(metric)
    values = table[metric].astype(float)
    by_future = values.groupby(table["future"])
    if direction == "max":
        return (by_future.transform("max") - values).rename(f"{metric}_regret")
    return (values - by_future.transform("min")).rename(f"{metric}_regret")


def satisfies(table: pd.DataFrame, thresholds: Thresholds) -> pd.Series:
    """Whether each row meets the thresholds (coverage target and gap tolerance).

    Args:
        table: tidy table with `coverage` and the thresholds' gap metric.
        thresholds: the satisficing thresholds.

    Returns:
        Boolean series aligned with `table`.
    """
    _require(table, ["coverage", thresholds.gap_metric])
    return (table["coverage"] >= thresholds.coverage_target) & (
        table[thresholds.gap_metric] <= thresholds.gap_tolerance
    )


def summarize(
    table: pd.DataFrame,
    thresholds: Thresholds | None = None,
    metrics: Iterable[str] = DEFAULT_METRICS,
    quantile: float = 0.95,
) -> pd.DataFrame:
    """The robustness table: one row per scenario.

    Columns: `futures`; per metric m `m_mean`, `m_worst`, `m_p05` (higher-is-better) or
    `m_p95` (lower-is-better), `m_regret_max`, `m_regret_mean`; `satisficing_share`;
    for spend `donor_spend_mean`, `national_spend_mean`, `national_spend_max`,
    `national_share` (when the spend columns exist).

    Args:
        table: tidy table (one row per scenario x future).
        thresholds: satisficing thresholds (defaults of `Thresholds`).
        metrics: metrics to summarise (each in `DIRECTIONS`).
        quantile: bad-case quantile level (0.95: the 95th percentile of a gap metric,
            the 5th percentile of coverage).

    Returns:
        DataFrame indexed by scenario (name `scenario`), in the order of first appearance.
    """
    thresholds = thresholds or Thresholds()
    metrics = list(dict.fromkeys([*metrics, "coverage", thresholds.gap_metric]))
    for m in metrics:
        _direction(m)
    data = complete_futures(table, metrics)
    if data.empty:
        raise ConfigError("no future has results for every scenario; nothing to summarise")
    order = list(dict.fromkeys(table["scenario"]))
    groups = data.groupby("scenario", sort=False)
    out = pd.DataFrame(index=pd.Index(order, name="scenario"))
    out["futures"] = groups.size()
    for m in metrics:
        worse_high = _direction(m) == "min"
        g = groups[m]
        out[f"{m}_mean"] = g.mean()
        out[f"{m}_worst"] = g.max() if worse_high else g.min()
        level = quantile if worse_high else 1.0 - quantile
        name = f"{m}_p{round(level * 100):02d}"
        out[name] = g.quantile(level)
        reg = regret(data, m).groupby(data["scenario"], sort=False)
        out[f"{m}_regret_max"] = reg.max()
        out[f"{m}_regret_mean"] = reg.mean()
    out["satisficing_share"] = satisfies(data, thresholds).groupby(data["scenario"]).mean()
    spend = [c for c in SPEND_COLUMNS if c in data.columns]
    for c in spend:
        out[f"{c}_mean"] = groups[c].mean()
    if "national_spend" in data.columns:
        out["national_spend_max"] = groups["national_spend"].max()
    if len(spend) == 2:
        total = out["donor_spend_mean"] + out["national_spend_mean"]
        out["national_share"] = out["national_spend_mean"] / total.where(total > 0)
    return out


@dataclass(frozen=True)
class Criterion:
    """A rule to pick the most robust scenario from the robustness table.

    Attributes:
        column: robustness-table column ranked.
        better: "max" or "min".
        text: plain-language phrase for the reason sentence.
    """

    column: str
    better: str
    text: str


def criteria(metrics: Iterable[str] = DEFAULT_METRICS) -> dict[str, Criterion]:
    """The available selection criteria by name.

    `max_satisficing`; and per metric m: `minimax_regret_<m>`, `min_mean_regret_<m>`,
    `best_worst_<m>` (maximin for coverage, minimax for gap metrics).

    Args:
        metrics: metrics present in the robustness table.

    Returns:
        Mapping name -> Criterion.
    """
    out = {
        "max_satisficing": Criterion(
            "satisficing_share", "max", "the largest share of futures meeting the thresholds"
        )
    }
    for m in metrics:
        out[f"minimax_regret_{m}"] = Criterion(
            f"{m}_regret_max", "min", f"the smallest worst-case regret in {m}"
        )
        out[f"min_mean_regret_{m}"] = Criterion(
            f"{m}_regret_mean", "min", f"the smallest mean regret in {m}"
        )
        worst = "lowest" if _direction(m) == "max" else "highest"
        out[f"best_worst_{m}"] = Criterion(
            f"{m}_worst", "max" if _direction(m) == "max" else "min",
            f"the best {worst} {m} over all futures",
        )
    return out


def most_robust(
    summary: pd.DataFrame,
    criterion: str = "max_satisficing",
    thresholds: Thresholds | None = None,
) -> tuple[str, str]:
    """Pick the most robust scenario under a criterion and say why in one sentence.

    Ties on the criterion are broken by the smaller mean coverage regret, then by name.

    Args:
        summary: output of `summarize` (indexed by scenario).
        criterion: a name from `criteria()`.
        thresholds: the thresholds used (only to word the satisficing reason).

    Returns:
        (scenario name, reason sentence).

    Raises:
        ConfigError: unknown criterion or its column is missing.
    """
    metrics = [m for m in DIRECTIONS if f"{m}_regret_max" in summary.columns]
    table = criteria(metrics)
    if criterion not in table:
        raise ConfigError(f"criterion: unknown '{criterion}'; allowed: {', '.join(table)}")
    crit = table[criterion]
    ranked = summary.copy()
    ranked["_name"] = ranked.index.astype(str)
    sort_cols, ascending = [crit.column], [crit.better == "min"]
    if "coverage_regret_mean" in ranked.columns:
        sort_cols.append("coverage_regret_mean")
        ascending.append(True)
    ranked = ranked.sort_values(sort_cols + ["_name"], ascending=ascending + [True])
    best = str(ranked.index[0])
    value = ranked[crit.column].iloc[0]
    futures = int(ranked["futures"].iloc[0])
    if criterion == "max_satisficing":
        cond = (thresholds or Thresholds()).describe()
        head = (
            f"{best} is the most robust strategy: it meets {cond} "
            f"in {value:.0%} of {futures} futures"
        )
    else:
        head = (
            f"{best} is the most robust strategy under {criterion.replace('_', ' ')}: "
            f"it has {crit.text} ({crit.column} = {_fmt(value)} over {futures} futures)"
        )
    if len(ranked) > 1:
        other = str(ranked.index[1])
        ov = ranked[crit.column].iloc[1]
        shown = f"{ov:.0%}" if criterion == "max_satisficing" else _fmt(ov)
        head += f", against {shown} for the runner-up {other}"
        if abs(ov - value) <= 1e-12:
            head += (
                "; the tie is broken by the smaller mean regret in coverage"
                if "coverage_regret_mean" in ranked.columns
                else "; the tie is broken by name"
            )
    return best, head + "."


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _direction(metric: str) -> str:
    if metric not in DIRECTIONS:
        raise ConfigError(f"metric: unknown '{metric}'; allowed: {', '.join(DIRECTIONS)}")
    return DIRECTIONS[metric]


def _require(table: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ConfigError(f"outcome table lacks columns {missing}; has {list(table.columns)}")


__all__ = [
    "DIRECTIONS",
    "DEFAULT_METRICS",
    "Thresholds",
    "Criterion",
    "tidy_outcomes",
    "complete_futures",
    "regret",
    "satisfies",
    "summarize",
    "criteria",
    "most_robust",
]
