"""Exact answers on hand-built arrays for every outcome of docs/metrics.md (sim/metrics.py)."""

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
    eps = episode_groups(need, groups)
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
