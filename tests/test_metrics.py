"""Exact answers on hand-built arrays for every outcome of docs/metrics.md (sim/metrics.py).

The monthly state columns the model records itself (active, waiting, caseload_<kind>,
budget_<provider>, block_<name>, readiness, trust_gov, allocations, referral_success) are
not computed here: tests/test_mechanisms.py and tests/invariants.py check them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.domain import Status
from sim.metrics import (
    cohort_counts,
    episode_groups,
    gap_measures,
    longest_run,
    material_months,
    named,
    reintegration_outcomes,
    returnee_groups,
    rolling_coverage,
    spend_outcomes,
    sustainable_at_12m,
    window_coverage,
    windows,
)
from sim.params import ModelSettings

NAN = math.nan


def test_cohort_counts_timely_incomplete_and_spinup():
    # 4 returnees x 2 areas; horizon 5 months, timely = 2 (served in arrival month or next).
    arrival = np.array([-1, 0, 0, 3])  # the first arrived during the spin-up: ignored
    first = np.array([[0, -2], [1, -2], [2, 0], [3, -5]])
    need = np.array([[True, False], [True, True], [True, True], [True, False]])
    opened, covered = cohort_counts(arrival, first, need, horizon=5, timely=2)
    np.testing.assert_array_equal(opened, [4, 0, 0, 1, 0])
    # month 0: episode (1,0) served after 1 month (ok), (1,1) never, (2,0) after 2 (late), (2,1) at once
    np.testing.assert_array_equal(covered[:4], [2, 0, 0, 1])
    assert np.isnan(covered[4])  # the last cohort's timely period is not over


def test_rolling_and_window_coverage():
    opened = np.array([10.0, 10, 20, 10, 0])
    covered = np.array([5.0, 0, 10, 10, NAN])
    r = rolling_coverage(opened, covered, months=3)
    assert np.isnan(r[0]) and np.isnan(r[1]) and np.isnan(r[4])
    assert r[2] == pytest.approx(15 / 40) and r[3] == pytest.approx(20 / 40)
    assert window_coverage(opened, covered, slice(2, 5)) == pytest.approx(20 / 30)  # NaN cohort skipped
    assert np.isnan(window_coverage(opened, covered, slice(4, 5)))


def test_material_month_needs_tolerance_and_significance():
    # baseline 0.5, tolerance 0.2: the line is 0.4.
    opened = np.array([100.0, 100, 100, 100, 4, 0, 100])
    covered = np.array([50.0, 39, 25, 0, 0, 0, NAN])
    m = material_months(opened, covered, base=0.5, delta=0.2, alpha=0.05)
    # 39/100 is below the line but indistinguishable from noise (P(X<=39 | 100, 0.4) ~ 0.46);
    # 25/100 and 0/100 are material; 0/4 is not significant (0.6^4 = 0.13); no cohort or NaN never.
    np.testing.assert_array_equal(m, [False, False, True, True, False, False, False])


def test_longest_run():
    assert longest_run(np.array([], dtype=bool)) == 0
    assert longest_run(np.array([1, 1, 0, 1, 1, 1, 0, 1])) == 3


def _settings(k: int = 3) -> ModelSettings:
    return ModelSettings(gap_delta=0.2, gap_alpha=0.05, gap_min_months=k)


def test_gap_measures_exact():
    opened = np.full(8, 100.0)
    covered = np.array([50.0, 50, 50, 10, 10, 10, 60, NAN])
    g = gap_measures(opened, covered, slice(0, 2), slice(2, 8), _settings(), scale=2)
    assert g["baseline_coverage"] == 0.5
    assert g["gap_episodes"] == pytest.approx(2 * 3 * (50 - 10))  # persons: scale x shortfall x cohort
    assert g["gap_depth"] == pytest.approx(0.5 - 0.1)  # rolling 3-month coverage at month 5
    assert g["gap_duration"] == 3 and g["gap_months"] == 3
    assert g["material_gap"] == 1.0
    assert gap_measures(opened, covered, slice(0, 2), slice(2, 8), _settings(4), 2)["material_gap"] == 0.0


def test_gap_measures_zero_service_is_a_full_gap_and_no_baseline_is_undefined():
    opened = np.full(10, 50.0)
    covered = np.r_[np.full(4, 10.0), np.zeros(6)]
    g = gap_measures(opened, covered, slice(0, 4), slice(4, 10), _settings(), scale=1)
    assert g["gap_episodes"] == pytest.approx(6 * 10)  # every baseline-expected episode lost
    assert g["gap_duration"] == 6 and g["material_gap"] == 1.0 and g["gap_depth"] == pytest.approx(0.2)
    none = gap_measures(np.r_[np.zeros(4), opened[4:]], covered, slice(0, 4), slice(4, 10), _settings(), 1)
    assert all(math.isnan(v) for v in none.values())


def test_groups_and_names():
    modality = np.array([0, 3, 1])  # avrr_europe, spontaneous, humanitarian_transit
    profile = np.array([1, 0, 0])
    region = np.array([0, 1, 1])
    groups = returnee_groups(modality, profile, region, {"avrr_europe", "humanitarian_transit"}, ["a", "b"])
    np.testing.assert_array_equal(groups["programme"], [True, False, True])
    np.testing.assert_array_equal(groups["nonprogramme"], [False, True, False])
    np.testing.assert_array_equal(groups["vulnerable"], [True, False, False])
    np.testing.assert_array_equal(groups["region_b"], [False, True, True])
    np.testing.assert_array_equal(groups["spontaneous"], [False, True, False])
    need = np.zeros((3, 6), dtype=bool)
    need[:, 0] = True
    need[0, 1] = True
    eps = episode_groups(*np.nonzero(need), groups)
    assert eps["programme"].sum() == 3 and eps["area_economic"].sum() == 3 and eps["area_social"].sum() == 1
    assert named("coverage", "") == "coverage" and named("gap_risk", "programme") == "gap_risk_programme"


def test_reintegration_outcomes_exact():
    horizon = 40
    arrival = np.array([-3, 0, 0, 10, 20, 30])  # 30 is too young for 12 months, 20 for 24
    status = np.array([Status.REMIGRATED, Status.REMIGRATED, Status.ACTIVE, Status.REMIGRATED,
                       Status.ACTIVE, Status.ACTIVE])
    exit_month = np.array([0, 5, -1, 30, -1, -1])
    score = np.array([0.9, np.nan, 0.6, 0.4, 0.5, 0.9])
    out = reintegration_outcomes(arrival, status, exit_month, score, horizon)
    assert out["remigration_12m"] == pytest.approx(1 / 4)  # cohort: 0, 0, 10, 20; left within 12: row 1
    assert out["remigration_24m"] == pytest.approx(2 / 3)  # cohort: 0, 0, 10; rows 1 and 3 (20 months)
    np.testing.assert_array_equal(sustainable_at_12m(arrival, score, horizon),
                                  [False, False, True, False, True, False])
    assert out["sustainable_share_12m"] == pytest.approx(2 / 4)
    stricter = reintegration_outcomes(arrival, status, exit_month, score, horizon, threshold=0.55)
    assert stricter["sustainable_share_12m"] == pytest.approx(1 / 4)


def test_spend_outcomes_exact():
    ts = pd.DataFrame({
        "month": np.arange(14), "donor_spend": np.full(14, 10.0), "national_spend": np.r_[np.zeros(12), 5.0, 5.0],
        "caseload_external_implementer": np.full(14, 3.0), "caseload_national_agency": np.full(14, 1.0),
        "caseload_local_ngo": np.full(14, 0.0),
    })
    out = spend_outcomes(ts)
    assert out["donor_spend"] == 140 and out["national_spend"] == 10
    assert out["national_share_of_spend"] == pytest.approx(10 / 150)
    assert out["national_share_of_caseload"] == pytest.approx(14 / 56)
    assert out["donor_spend_y1"] == 120 and out["donor_spend_y2"] == 20 and out["national_spend_y2"] == 10


def test_windows():
    base, w = windows(ModelSettings(horizon_months=60, handover_start=24, warmup_months=6, timely_months=3), 60)
    assert (base.start, base.stop) == (6, 24) and (w.start, w.stop) == (24, 58)


def _fake_run(horizon: int = 16, spinup: int = 2, scale: int = 2):
    """A finished run built by hand: 5 returnees (one arrived during the spin-up), one
    external implementer serving AVRR returnees, 16 reported months of records.

    Reported arrival months 2, 3, 3, 5 (and -1: spin-up). Needs and first service:
    r1 (AVRR, vulnerable, north): economic served at once, social never;
    r2 (spontaneous, standard, south): health served at once;
    r3 (forced, standard, south): economic never; r4 (spontaneous, vulnerable, north):
    economic served at once. `timely_months` is 1, so a cohort is complete at once.
    """
    from types import SimpleNamespace

    from sim.domain import AREAS, MODALITIES, PROFILES, Episode

    n, a = 5, len(AREAS)
    arrival = np.array([-1, 2, 3, 3, 5]) + spinup  # the model's clock includes the spin-up
    ep = np.full((n, a), Episode.NONE)
    served = np.full((n, a), -1)  # model clock; never served: below arrival
    area = {x: AREAS.index(x) for x in AREAS}
    for r, name, first in [(0, "economic", -1), (1, "economic", 2), (1, "social", None),
                           (2, "health", 3), (3, "economic", None), (4, "economic", 5)]:
        ep[r, area[name]] = Episode.LATENT
        if first is not None:
            served[r, area[name]] = first + spinup
    mod = MODALITIES.index
    columns = {
        "arrival": arrival, "ep": ep, "ep_first_served": served,
        "modality": np.array([mod("avrr_europe"), mod("avrr_europe"), mod("spontaneous"),
                              mod("forced"), mod("spontaneous")]),
        "profile": np.array([PROFILES.index(p) for p in
                             ("standard", "vulnerable", "standard", "standard", "vulnerable")]),
        "region": np.array([0, 0, 1, 1, 0]),
        "status": np.array([Status.CLOSED, Status.ACTIVE, Status.REMIGRATED, Status.ACTIVE,
                            Status.ACTIVE]),
        "exit_month": np.array([0, -1, 3 + 5, -1, -1]) + spinup,
        "score_12m": np.array([np.nan, 0.8, 0.3, np.nan, 0.9]),
        "ever_external": np.array([True, True, False, True, False]),
    }
    months = np.arange(horizon)
    records = pd.DataFrame({
        "month": months,
        "dropped": np.where(months == 1, 1, 0) + np.where(months == 3, 2, 0) + np.where(months == 5, 3, 0),
        "unmet_need": np.ones(horizon),
        "donor_spend": np.full(horizon, 10.0),
        "national_spend": np.where(months >= 3, 5.0, 0.0),
        "caseload_external_implementer": np.full(horizon, 2.0),
        "caseload_national_agency": np.full(horizon, 1.0),
    }).to_dict("records")
    settings = ModelSettings(horizon_months=horizon, handover_start=2, warmup_months=0,
                             timely_months=1)
    external = SimpleNamespace(external=True, spec=SimpleNamespace(modalities=["avrr_europe"]))
    national = SimpleNamespace(external=False, spec=SimpleNamespace(modalities=list(MODALITIES)))
    params = SimpleNamespace(model=settings, country=SimpleNamespace(
        regions=[SimpleNamespace(name="north"), SimpleNamespace(name="south")],
        returnees=SimpleNamespace(sustainable_score=0.5)))
    return SimpleNamespace(params=params, population=SimpleNamespace(view=columns.__getitem__),
                           scale=scale, month=horizon, spinup=spinup, records=records,
                           providers=[external, national])


def test_outcomes_and_series_of_a_hand_built_run_exact():
    """Every scalar outcome `outcomes_and_series` adds to the array functions above, and
    the series columns it derives, on `_fake_run` (answers worked out by hand)."""
    from sim.metrics import outcomes_and_series

    out, ts = outcomes_and_series(_fake_run())
    # window = cohorts 2..15; episodes: m2 r1 econ (covered) + social (not); m3 r2 health
    # (covered), r3 econ (not); m5 r4 econ (covered): 3 of 5; the spin-up arrival is not counted
    assert out["coverage"] == pytest.approx(3 / 5)
    assert out["coverage_programme"] == pytest.approx(1 / 2)  # AVRR: r1 only
    assert out["coverage_nonprogramme"] == pytest.approx(2 / 3)
    assert out["coverage_vulnerable"] == pytest.approx(2 / 3)  # r1 (1 of 2), r4 (1 of 1)
    assert out["coverage_standard"] == pytest.approx(1 / 2)
    assert out["coverage_avrr_europe"] == pytest.approx(1 / 2)
    assert out["coverage_spontaneous"] == 1.0 and out["coverage_forced"] == 0.0
    assert math.isnan(out["coverage_humanitarian_transit"])
    assert out["coverage_region_north"] == pytest.approx(2 / 3)
    assert out["coverage_region_south"] == pytest.approx(1 / 2)
    assert out["coverage_area_economic"] == pytest.approx(2 / 3)
    assert out["coverage_area_social"] == 0.0 and out["coverage_area_health"] == 1.0
    assert math.isnan(out["coverage_area_training"])
    # records: dropped 1 (month 1), 2 (month 3), 3 (month 5); handover at month 2
    assert out["dropped_cases"] == 6 and out["dropped_cases_window"] == 5
    assert out["unmet_need_months"] == 16
    # spend: donors 16 x 10, treasury 13 x 5 = 225 USD; 3 covered episodes x scale 2
    assert out["donor_spend"] == 160 and out["national_spend"] == 65
    assert out["cost_per_covered_episode"] == pytest.approx(225 / 6)
    # 12-month cohort: arrivals 0..3 (r1, r2, r3); sustainable (score >= 0.5): r1 -> 1 x 2 persons
    assert out["sustainable_share_12m"] == pytest.approx(1 / 3)
    assert out["cost_per_sustainable_returnee"] == pytest.approx(225 / 2)
    assert out["remigration_12m"] == pytest.approx(1 / 3)  # r2 left 5 months after arriving
    assert out["arrivals"] == 4 * 2  # reported arrivals, persons
    assert out["programme_assisted_share"] == pytest.approx(2 / 4)  # r1, r3 ever external
    assert out["programme_modality_share"] == pytest.approx(1 / 4)  # r1 is AVRR
    # series: episodes opened in persons, coverage per cohort, rolling over 3 complete cohorts
    np.testing.assert_array_equal(ts["episodes_opened"].to_numpy()[:6], [0, 0, 4, 4, 0, 2])
    np.testing.assert_array_equal(ts["coverage"].to_numpy()[:6], [NAN, NAN, 0.5, 0.5, NAN, 1.0])
    np.testing.assert_allclose(ts["coverage_rolling"].to_numpy()[:9],
                               [NAN, NAN, 1 / 2, 2 / 4, 2 / 4, 2 / 3, 1, 1, NAN])
    assert ts["year"].tolist() == [1] * 12 + [2] * 4
