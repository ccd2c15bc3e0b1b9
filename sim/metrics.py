"""The outcomes every command compares, defined once (formulas in docs/metrics.md).

All functions read a finished model's arrays and monthly records; people are counted in
persons (agents x scale), money in USD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.domain import AREAS, MODALITIES, PROFILES, Episode, Status

if TYPE_CHECKING:
    from sim.model import HandoverModel

#: Width of the rolling window (months) used for gap detection.
ROLLING_MONTHS = 3


def cohort_coverage(arrival: np.ndarray, first_served: np.ndarray, has_need: np.ndarray,
                    horizon: int, timely: int) -> tuple[np.ndarray, np.ndarray]:
    """Need episodes opened and covered per opening month.

    An episode opens at its returnee's arrival and is covered if service starts fewer than
    `timely` months later. Cohorts younger than `timely` months at the end are incomplete
    and get NaN coverage.

    Args:
        arrival: (n,) arrival month per returnee.
        first_served: (n, areas) month service first started, -1 if never.
        has_need: (n, areas) True where the returnee had a need.
        horizon: months simulated.
        timely: the `timely_months` threshold.

    Returns:
        (opened, covered): float arrays of length `horizon`; covered is NaN where incomplete.
    """
    months = np.broadcast_to(arrival[:, None], has_need.shape)[has_need]
    served = first_served[has_need]
    timely_ok = (served >= 0) & (served - months < timely)
    opened = np.bincount(months, minlength=horizon)[:horizon].astype(float)
    covered = np.bincount(months[timely_ok], minlength=horizon)[:horizon].astype(float)
    covered[horizon - timely + 1:] = np.nan if timely > 1 else covered[horizon - timely + 1:]
    return opened, covered


def ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray | float:
    """num / den with NaN where den is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(den) > 0, np.asarray(num) / np.asarray(den), np.nan)


def gap_statistics(opened: np.ndarray, covered: np.ndarray, baseline: slice, window: slice,
                   delta: float) -> dict[str, float]:
    """Baseline coverage, gap months and maximum drawdown of rolling coverage.

    rolling(t) = sum(covered[t-2..t]) / sum(opened[t-2..t]);
    baseline = sum(covered[baseline]) / sum(opened[baseline]);
    gap_months = #{t in window: rolling(t) < (1 - delta) x baseline};
    max_coverage_drawdown = max(0, max_{t in window} baseline - rolling(t)).
    """
    kernel = np.ones(ROLLING_MONTHS)
    valid = ~np.isnan(covered)
    c = np.convolve(np.where(valid, covered, 0.0), kernel)[: len(covered)]
    o = np.convolve(np.where(valid, opened, 0.0), kernel)[: len(opened)]
    complete = np.convolve(valid.astype(float), kernel)[: len(covered)] == ROLLING_MONTHS
    rolling = np.where(complete, ratio(c, o), np.nan)
    base = float(ratio(np.nansum(covered[baseline]), opened[baseline][valid[baseline]].sum()))
    r = rolling[window]
    r = r[~np.isnan(r)]
    if np.isnan(base) or len(r) == 0:  # no baseline or no window: gaps are undefined
        return {"baseline_coverage": base, "gap_months": np.nan, "max_coverage_drawdown": np.nan,
                "rolling": rolling}
    return {
        "baseline_coverage": base,
        "gap_months": float(np.sum(r < (1 - delta) * base)),
        "max_coverage_drawdown": float(max(0.0, np.max(base - r))),
        "rolling": rolling,
    }


def outcomes_and_series(model: HandoverModel) -> tuple[dict[str, float], pd.DataFrame]:
    """Compute the scalar outcomes and the monthly table of a finished run."""
    m = model.params.model
    pop = model.population
    k = model.scale
    horizon = model.month
    ts = pd.DataFrame(model.records)
    arrival = pop.view("arrival")
    ep = pop.view("ep")
    has_need = ep != Episode.NONE
    first = pop.view("ep_first_served")
    timely = m.timely_months
    last_complete = horizon - timely  # last cohort month with complete follow-up
    window = slice(min(m.handover_start, horizon), max(last_complete + 1, 0))
    baseline = slice(min(m.warmup_months, m.handover_start), m.handover_start)

    opened, covered = cohort_coverage(arrival, first, has_need, horizon, timely)
    gaps = gap_statistics(opened, covered, baseline, window, m.gap_delta)
    ts["coverage"] = ratio(covered, opened)
    ts["coverage_rolling"] = gaps["rolling"]
    ts["episodes_opened"] = opened * k
    ts["year"] = ts["month"] // 12 + 1

    in_window = (arrival >= window.start) & (arrival < window.stop)

    def cov(mask: np.ndarray) -> float:
        sel = has_need & (mask & in_window)[:, None]
        ok = sel & (first >= 0) & (first - arrival[:, None] < timely)
        return float(ratio(ok.sum(), sel.sum()))

    out: dict[str, float] = {"coverage": cov(np.ones(pop.n, dtype=bool))}
    programme_modalities = {mod for p in model.providers if p.external for mod in p.spec.modalities}
    programme = np.isin(pop.view("modality"), [MODALITIES.index(x) for x in programme_modalities])
    out["coverage_programme"] = cov(programme)
    out["coverage_nonprogramme"] = cov(~programme)
    for i, profile in enumerate(PROFILES):
        out[f"coverage_{profile}"] = cov(pop.view("profile") == i)
    for i, modality in enumerate(MODALITIES):
        out[f"coverage_{modality}"] = cov(pop.view("modality") == i)
    for i, region in enumerate(model.params.country.regions):
        out[f"coverage_region_{region.name}"] = cov(pop.view("region") == i)
    for a, area in enumerate(AREAS):
        sel = has_need[:, a] & in_window
        ok = sel & (first[:, a] >= 0) & (first[:, a] - arrival < timely)
        out[f"coverage_area_{area}"] = float(ratio(ok.sum(), sel.sum()))

    out["baseline_coverage"] = gaps["baseline_coverage"]
    out["dropped_cases"] = float(model.dropped_total * k)
    out["dropped_cases_window"] = float(ts.loc[ts["month"] >= m.handover_start, "dropped"].sum())
    out["unmet_need_months"] = float(ts["unmet_need"].sum())
    out["max_coverage_drawdown"] = gaps["max_coverage_drawdown"]
    out["gap_months"] = gaps["gap_months"]

    status = pop.view("status")
    exit_m = pop.view("exit_month")
    for months in (12, 24):
        cohort = arrival <= horizon - 1 - months
        left = (status == Status.REMIGRATED) & (exit_m - arrival < months)
        out[f"remigration_{months}m"] = float(ratio((left & cohort).sum(), cohort.sum()))
    cohort12 = arrival <= horizon - 1 - 12
    sustainable = np.nan_to_num(pop.view("score_12m"), nan=0.0) >= 0.5
    out["sustainable_share_12m"] = float(ratio((sustainable & cohort12).sum(), cohort12.sum()))

    donor, national = float(ts["donor_spend"].sum()), float(ts["national_spend"].sum())
    out["donor_spend"] = donor
    out["national_spend"] = national
    out["national_share_of_spend"] = float(ratio(national, donor + national))
    nat_cols = [c for c in ts if c.startswith("caseload_") and c != "caseload_external_implementer"]
    nat_load = ts[nat_cols].sum(axis=1).sum()
    out["national_share_of_caseload"] = float(ratio(nat_load, nat_load + ts["caseload_external_implementer"].sum()))
    covered_total = float(np.nansum(covered)) * k
    out["cost_per_covered_episode"] = float(ratio(donor + national, covered_total))
    out["cost_per_sustainable_returnee"] = float(ratio(donor + national, (sustainable & cohort12).sum() * k))
    out["arrivals"] = float(pop.n * k)
    out["programme_assisted_share"] = float(ratio(pop.view("ever_external").sum(), pop.n))
    out["programme_modality_share"] = float(programme.mean()) if pop.n else np.nan
    for year, grp in ts.groupby("year"):
        out[f"donor_spend_y{year}"] = float(grp["donor_spend"].sum())
        out[f"national_spend_y{year}"] = float(grp["national_spend"].sum())
    return out, ts
