"""The outcomes of one run, defined once (formulas and units in docs/metrics.md).

Every function but `outcomes_and_series` works on plain arrays, so each outcome can be
checked on hand-built data (tests/test_metrics.py). Months are reported months (the
spin-up is not reported); people are counted in persons (agents x scale), money in USD.
Across replications, `gap_risk` and its intervals live in `experiments/gap_risk.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from sim.domain import AREAS, MODALITIES, PROFILES, Episode, Status

if TYPE_CHECKING:
    from sim.model import HandoverModel
    from sim.params import ModelSettings

#: Width of the rolling window (months) of `coverage_rolling` and `gap_depth`.
ROLLING_MONTHS = 3

#: Per-group gap measures, reported as `<measure>` (everyone) and `<measure>_<group>`.
GAP_MEASURES = ("baseline_coverage", "gap_episodes", "gap_depth", "gap_duration", "gap_months",
                "material_gap")


def ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray | float:
    """num / den with NaN where den is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(den) > 0, np.asarray(num) / np.asarray(den), np.nan)


def cohort_counts(arrival: np.ndarray, first_served: np.ndarray, episodes: np.ndarray,
                  horizon: int, timely: int) -> tuple[np.ndarray, np.ndarray]:
    """Need episodes opened and covered per cohort (arrival month).

    An episode opens at its returnee's arrival and is covered if service starts fewer than
    `timely` months later. Cohorts younger than `timely` months at the end are incomplete
    and get NaN covered; arrivals outside 0 ... horizon - 1 (the spin-up) are ignored.

    Args:
        arrival: (n,) reported arrival month per returnee.
        first_served: (n, areas) month service first started (same clock as `arrival`),
            below the arrival month if never.
        episodes: (n, areas) True for the episodes to count (need, and group membership).
        horizon: months reported.
        timely: the `timely_months` threshold.

    Returns:
        (opened, covered): float arrays of length `horizon` in agents.
    """
    opened, covered = cell_cohort_counts(arrival, first_served, episodes, np.zeros(len(arrival), dtype=np.int64),
                                         1, horizon, timely)
    return cohorts(opened.sum(axis=(0, 1)), covered.sum(axis=(0, 1)), horizon, timely)


def cell_cohort_counts(arrival: np.ndarray, first_served: np.ndarray, need: np.ndarray, cell: np.ndarray,
                       n_cells: int, horizon: int, timely: int) -> tuple[np.ndarray, np.ndarray]:
    """Need episodes opened and covered per (cell, area, cohort), in one pass over the episodes.

    The counts of `cohort_counts` split by a returnee's cell (any grouping of returnees into
    `n_cells` classes, e.g. modality x profile x region) and by area: the counts of any group
    made of whole cells are sums of these, so each episode is visited once for all groups.

    Args:
        arrival: (n,) reported arrival month per returnee.
        first_served: (n, areas) month service first started, below the arrival month if never.
        need: (n, areas) True for the episodes to count.
        cell: (n,) cell of each returnee, 0 ... n_cells - 1.
        n_cells: number of cells.
        horizon: months reported.
        timely: the `timely_months` threshold.

    Returns:
        (opened, covered): int64 arrays (n_cells, areas, horizon) in agents; covered counts
        every timely episode, also of incomplete cohorts (`cohorts` marks those).
    """
    n_areas = need.shape[1]
    flat = np.flatnonzero(need)  # the list of episodes: far shorter than the grid
    rows, areas = np.divmod(flat, n_areas)
    months = arrival[rows]
    served = np.reshape(first_served, -1)[flat]
    keep = (months >= 0) & (months < horizon)
    timely_ok = keep & (served >= months) & (served - months < timely)  # never served: -1 or below
    key = (cell[rows] * n_areas + areas) * horizon + months
    size = n_cells * n_areas * horizon
    shape = (n_cells, n_areas, horizon)
    return (np.bincount(key[keep], minlength=size).reshape(shape),
            np.bincount(key[timely_ok], minlength=size).reshape(shape))


def cohorts(opened: np.ndarray, covered: np.ndarray, horizon: int, timely: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per cohort as floats, with NaN covered for the cohorts younger than `timely`
    months at the end (incomplete)."""
    opened, covered = opened.astype(float), covered.astype(float)
    if timely > 1:
        covered[max(horizon - timely + 1, 0):] = np.nan
    return opened, covered


def rolling_coverage(opened: np.ndarray, covered: np.ndarray, months: int = ROLLING_MONTHS) -> np.ndarray:
    """Coverage of the cohorts t - months + 1 ... t pooled; NaN unless all are complete."""
    kernel = np.ones(months)
    valid = ~np.isnan(covered)
    c = np.convolve(np.where(valid, covered, 0.0), kernel)[: len(covered)]
    o = np.convolve(np.where(valid, opened, 0.0), kernel)[: len(opened)]
    complete = np.convolve(valid.astype(float), kernel)[: len(covered)] == months
    return np.where(complete, ratio(c, o), np.nan)


def window_coverage(opened: np.ndarray, covered: np.ndarray, window: slice) -> float:
    """Covered / opened episodes pooled over the complete cohorts of `window`."""
    c, o = covered[window], opened[window]
    ok = ~np.isnan(c)
    return float(ratio(c[ok].sum(), o[ok].sum()))


def material_months(opened: np.ndarray, covered: np.ndarray, base: float, delta: float,
                    alpha: float) -> np.ndarray:
    """Months whose cohort coverage is materially below the baseline.

    A month is material when its coverage covered/opened is below the tolerance line
    (1 - delta) x base AND the shortfall is not cohort-sampling noise: the one-sided exact
    binomial test of H0 "coverage >= (1 - delta) x base" rejects at level `alpha`,
    P(X <= covered | opened, (1 - delta) x base) <= alpha. Months with no episode or an
    incomplete cohort are never material.
    """
    line = (1 - delta) * base
    ok = ~np.isnan(covered) & (opened > 0)
    c, o = np.where(ok, covered, 0.0), np.where(ok, opened, 1.0)
    p = stats.binom.cdf(c, o, line)
    return ok & (c < line * o) & (p <= alpha)


def longest_run(flags: np.ndarray) -> int:
    """Length of the longest run of consecutive True values."""
    best = run = 0
    for f in np.asarray(flags, dtype=bool):
        run = run + 1 if f else 0
        best = max(best, run)
    return best


def gap_measures(opened: np.ndarray, covered: np.ndarray, baseline: slice, window: slice,
                 settings: ModelSettings, scale: float) -> dict[str, float]:
    """Gap measures of one group against its own baseline (docs/metrics.md, "Gaps").

    Args:
        opened, covered: cohort counts of the group (`cohort_counts`), in agents.
        baseline: cohort months of the baseline.
        window: cohort months of the evaluation window W.
        settings: `gap_delta` (tolerance), `gap_alpha` (test level) and `gap_min_months`
            (k consecutive material months make a material gap).
        scale: persons per agent.

    Returns:
        baseline_coverage (share), gap_episodes (persons), gap_depth (coverage points as a
        fraction), gap_duration and gap_months (months), material_gap (0/1). All NaN when
        the baseline has no episode or W no complete cohort (undefined, not zero).
    """
    base = window_coverage(opened, covered, baseline)
    o, c = opened[window], covered[window]
    ok = ~np.isnan(c)
    if np.isnan(base) or not ok.any():
        return dict.fromkeys(GAP_MEASURES, np.nan)
    o, c = o[ok], c[ok]
    rolling = rolling_coverage(opened, covered)[window]
    rolling = rolling[~np.isnan(rolling)]
    material = material_months(o, c, base, settings.gap_delta, settings.gap_alpha)
    duration = longest_run(material)
    return {
        "baseline_coverage": base,
        "gap_episodes": float(np.maximum(base * o - c, 0.0).sum() * scale),
        "gap_depth": float(max(0.0, np.max(base - rolling))) if len(rolling) else np.nan,
        "gap_duration": float(duration),
        "gap_months": float(material.sum()),
        "material_gap": float(duration >= settings.gap_min_months),
    }


def returnee_groups(modality: np.ndarray, profile: np.ndarray, region: np.ndarray,
                    programme_modalities: set[str], regions: list[str]) -> dict[str, np.ndarray]:
    """(n,) masks of the returnee groups outcomes are reported for, by suffix.

    "" is everyone; programme = modality served by some external implementer (funded or
    not); then profiles, modalities and `region_<name>`.
    """
    programme = np.isin(modality, [MODALITIES.index(x) for x in programme_modalities])
    groups = {"": np.ones(len(modality), dtype=bool), "programme": programme, "nonprogramme": ~programme}
    groups |= {p: profile == i for i, p in enumerate(PROFILES)}
    groups |= {m: modality == i for i, m in enumerate(MODALITIES)}
    groups |= {f"region_{r}": region == i for i, r in enumerate(regions)}
    return groups


def gap_groups(groups: Mapping[str, np.ndarray]) -> list[str]:
    """Groups with their own gap measures: everyone, programme, non-programme, vulnerable,
    each region (service areas are added by `episode_groups`)."""
    return [g for g in groups if g in ("", "programme", "nonprogramme", "vulnerable") or g.startswith("region_")]


def episode_groups(rows: np.ndarray, areas: np.ndarray, groups: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Masks over a list of need episodes (returnee `rows`, service `areas`): each returnee
    group, and `area_<area>` (one area's episodes)."""
    out = {g: m[rows] for g, m in groups.items()}
    for a, area in enumerate(AREAS):
        out[f"area_{area}"] = areas == a
    return out


def named(measure: str, group: str) -> str:
    """Outcome name of a measure for a group: `coverage`, `coverage_programme`, ..."""
    return f"{measure}_{group}" if group else measure


def sustainable_at_12m(arrival: np.ndarray, score_12m: np.ndarray, horizon: int,
                       threshold: float = 0.5) -> np.ndarray:
    """(n,) True for returnees of the 12-month cohort (0 <= arrival <= horizon - 13) whose
    composite score 12 months after arrival was >= `threshold` (the parameter
    `returnees.sustainable_score`; NaN, e.g. re-migrated before, counts as not)."""
    cohort = (arrival >= 0) & (arrival <= horizon - 1 - 12)
    return cohort & (np.nan_to_num(score_12m, nan=0.0) >= threshold)


def reintegration_outcomes(arrival: np.ndarray, status: np.ndarray, exit_month: np.ndarray,
                           score_12m: np.ndarray, horizon: int, threshold: float = 0.5) -> dict[str, float]:
    """Re-migration within 12 and 24 months and sustainable share at 12 months.

    Cohorts: reported arrivals whose follow-up fits in the run (0 <= arrival <=
    horizon - 1 - months). `exit_month` shares the arrival's clock.
    """
    out: dict[str, float] = {}
    for months in (12, 24):
        cohort = (arrival >= 0) & (arrival <= horizon - 1 - months)
        left = (status == Status.REMIGRATED) & (exit_month - arrival < months)
        out[f"remigration_{months}m"] = float(ratio((left & cohort).sum(), cohort.sum()))
    cohort12 = (arrival >= 0) & (arrival <= horizon - 1 - 12)
    sustainable = sustainable_at_12m(arrival, score_12m, horizon, threshold)
    out["sustainable_share_12m"] = float(ratio(sustainable.sum(), cohort12.sum()))
    return out


def spend_outcomes(ts: pd.DataFrame) -> dict[str, float]:
    """Donor and national spend (total and per year) and the national shares."""
    donor, national = float(ts["donor_spend"].sum()), float(ts["national_spend"].sum())
    nat_cols = [c for c in ts if c.startswith("caseload_") and c != "caseload_external_implementer"]
    nat_load = float(ts[nat_cols].sum(axis=1).sum())
    out = {
        "donor_spend": donor,
        "national_spend": national,
        "national_share_of_spend": float(ratio(national, donor + national)),
        "national_share_of_caseload": float(ratio(nat_load, nat_load + ts["caseload_external_implementer"].sum())),
    }
    for year, grp in ts.groupby(ts["month"] // 12 + 1):
        out[f"donor_spend_y{year}"] = float(grp["donor_spend"].sum())
        out[f"national_spend_y{year}"] = float(grp["national_spend"].sum())
    return out


def windows(settings: ModelSettings, horizon: int) -> tuple[slice, slice]:
    """(baseline, W) cohort months: warmup ... handover_start - 1 and handover_start ...
    horizon - timely_months."""
    last_complete = horizon - settings.timely_months
    window = slice(min(settings.handover_start, horizon), max(last_complete + 1, 0))
    baseline = slice(min(settings.warmup_months, settings.handover_start), settings.handover_start)
    return baseline, window


def outcomes_and_series(model: HandoverModel) -> tuple[dict[str, float], pd.DataFrame]:
    """Compute the scalar outcomes and the monthly table of a finished run."""
    m = model.params.model
    pop = model.population
    k = model.scale
    horizon = model.month
    ts = pd.DataFrame(model.records)
    arrival = pop.view("arrival") - model.spinup  # reported months
    first = pop.view("ep_first_served") - model.spinup  # never served: below arrival
    baseline, window = windows(m, horizon)
    programme_modalities = {mod for p in model.providers if p.external for mod in p.spec.modalities}
    regions = [r.name for r in model.params.country.regions]
    # Every returnee group is a set of (modality, profile, region) cells: count the episodes
    # once per (cell, area, cohort), then sum the cells of each group.
    region = pop.view("region")
    shape = (len(MODALITIES), len(PROFILES), max(len(regions), int(region.max(initial=-1)) + 1))
    cell = np.ravel_multi_index((pop.view("modality"), pop.view("profile"), region), shape)
    n_cells = int(np.prod(shape))
    groups = returnee_groups(*np.unravel_index(np.arange(n_cells), shape), programme_modalities, regions)
    with_gaps = set(gap_groups(groups)) | {f"area_{a}" for a in AREAS}
    opened_c, covered_c = cell_cohort_counts(arrival, first, pop.view("ep") != Episode.NONE, cell, n_cells,
                                             horizon, m.timely_months)
    by_group = {g: (opened_c[cells].sum(axis=(0, 1)), covered_c[cells].sum(axis=(0, 1))) for g, cells in groups.items()}
    by_group |= {f"area_{area}": (opened_c[:, a].sum(axis=0), covered_c[:, a].sum(axis=0))
                 for a, area in enumerate(AREAS)}

    out: dict[str, float] = {}
    for group, counts in by_group.items():
        opened, covered = cohorts(*counts, horizon, m.timely_months)
        out[named("coverage", group)] = window_coverage(opened, covered, window)
        if group in with_gaps:
            for measure, value in gap_measures(opened, covered, baseline, window, m, k).items():
                out[named(measure, group)] = value
        if group == "":
            everyone = (opened, covered)
    opened, covered = everyone
    ts["coverage"] = ratio(covered, opened)
    ts["coverage_rolling"] = rolling_coverage(opened, covered)
    ts["episodes_opened"] = opened * k
    ts["year"] = ts["month"] // 12 + 1

    out["dropped_cases"] = float(ts["dropped"].sum())
    out["dropped_cases_window"] = float(ts.loc[ts["month"] >= m.handover_start, "dropped"].sum())
    out["unmet_need_months"] = float(ts["unmet_need"].sum())
    threshold = model.params.country.returnees.sustainable_score
    out |= reintegration_outcomes(arrival, pop.view("status"), pop.view("exit_month") - model.spinup,
                                  pop.view("score_12m"), horizon, threshold)
    sustainable = sustainable_at_12m(arrival, pop.view("score_12m"), horizon, threshold).sum()
    out |= spend_outcomes(ts)
    total = out["donor_spend"] + out["national_spend"]
    out["cost_per_covered_episode"] = float(ratio(total, np.nansum(covered) * k))
    out["cost_per_sustainable_returnee"] = float(ratio(total, sustainable * k))
    reported = arrival >= 0
    out["arrivals"] = float(reported.sum() * k)
    out["programme_assisted_share"] = float(ratio((pop.view("ever_external") & reported).sum(), reported.sum()))
    reported_cells = np.bincount(cell[reported], minlength=n_cells)
    out["programme_modality_share"] = float(ratio(reported_cells[groups["programme"]].sum(), reported.sum()))
    return out, ts
