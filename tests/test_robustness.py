"""Robustness metrics on a hand-made table with answers worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError
from experiments.stress.robustness import (
    Thresholds,
    complete_futures,
    criteria,
    most_robust,
    regret,
    satisfies,
    summarize,
    tidy_outcomes,
    versus_reference,
)

# 3 scenarios x 4 futures.
COVERAGE = {"A": [0.8, 0.6, 0.7, 0.5], "B": [0.7, 0.7, 0.6, 0.6], "C": [0.9, 0.4, 0.5, 0.3]}
GAP_RISK = {"A": [0.0, 0.4, 0.1, 0.5], "B": [0.1, 0.1, 0.2, 0.2], "C": [0.0, 0.6, 0.3, 0.9]}
GAP_MONTHS = {"A": [0, 4, 1, 5], "B": [1, 1, 2, 2], "C": [0, 6, 3, 9]}
NATIONAL = {"A": [50, 60, 70, 80], "B": [10, 10, 10, 10], "C": [0, 0, 0, 0]}


def table() -> pd.DataFrame:
    rows = []
    for s in "ABC":
        for f in range(4):
            rows.append(
                {
                    "scenario": s,
                    "future": f,
                    "coverage": COVERAGE[s][f],
                    "gap_risk": GAP_RISK[s][f],
                    "gap_months": float(GAP_MONTHS[s][f]),
                    "donor_spend": 100.0,
                    "national_spend": float(NATIONAL[s][f]),
                }
            )
    return pd.DataFrame(rows)


def test_regret_by_hand():
    t = table()
    cov = regret(t, "coverage").to_numpy().reshape(3, 4)
    np.testing.assert_allclose(
        cov, [[0.1, 0.1, 0.0, 0.1], [0.2, 0.0, 0.1, 0.0], [0.0, 0.3, 0.2, 0.3]], atol=1e-12
    )
    gap = regret(t, "gap_risk").to_numpy().reshape(3, 4)
    np.testing.assert_allclose(
        gap, [[0.0, 0.3, 0.0, 0.3], [0.1, 0.0, 0.1, 0.0], [0.0, 0.5, 0.2, 0.7]], atol=1e-12
    )
    # invariant: the best scenario of every future has zero regret
    assert (regret(t, "gap_months").groupby(t["future"]).min() == 0).all()


def test_summary_exact():
    s = summarize(table(), Thresholds(coverage_target=0.6, gap_tolerance=0.2))
    assert list(s.index) == ["A", "B", "C"]
    assert (s["futures"] == 4).all()
    np.testing.assert_allclose(s["coverage_mean"], [0.65, 0.65, 0.525])
    np.testing.assert_allclose(s["coverage_worst"], [0.5, 0.6, 0.3])
    np.testing.assert_allclose(s["gap_risk_worst"], [0.5, 0.2, 0.9])
    # linear quantiles: A gap risk sorted (0, .1, .4, .5), position 0.95*3 = 2.85
    assert s.loc["A", "gap_risk_p95"] == pytest.approx(0.4 + 0.85 * 0.1)
    # A coverage sorted (.5, .6, .7, .8), position 0.05*3 = 0.15
    assert s.loc["A", "coverage_p05"] == pytest.approx(0.5 + 0.15 * 0.1)
    np.testing.assert_allclose(s["coverage_regret_max"], [0.1, 0.2, 0.3], atol=1e-12)
    np.testing.assert_allclose(s["coverage_regret_mean"], [0.075, 0.075, 0.2], atol=1e-12)
    np.testing.assert_allclose(s["gap_risk_regret_max"], [0.3, 0.1, 0.7], atol=1e-12)
    np.testing.assert_allclose(s["gap_risk_regret_mean"], [0.15, 0.05, 0.35], atol=1e-12)
    np.testing.assert_allclose(s["gap_months_regret_max"], [3, 1, 7])
    np.testing.assert_allclose(s["satisficing_share"], [0.5, 1.0, 0.25])
    np.testing.assert_allclose(s["donor_spend_mean"], [100, 100, 100])
    np.testing.assert_allclose(s["national_spend_mean"], [65, 10, 0])
    np.testing.assert_allclose(s["national_spend_max"], [80, 10, 0])
    np.testing.assert_allclose(s["national_share"], [65 / 165, 10 / 110, 0])


def test_satisficing_responds_to_thresholds():
    t = table()
    stricter_cov = summarize(t, Thresholds(coverage_target=0.7, gap_tolerance=0.2))
    np.testing.assert_allclose(stricter_cov["satisficing_share"], [0.5, 0.5, 0.25])
    stricter_gap = summarize(t, Thresholds(coverage_target=0.6, gap_tolerance=0.1))
    np.testing.assert_allclose(stricter_gap["satisficing_share"], [0.5, 0.5, 0.25])
    loose = summarize(t, Thresholds(coverage_target=0.0, gap_tolerance=1.0))
    np.testing.assert_allclose(loose["satisficing_share"], [1.0, 1.0, 1.0])
    months = summarize(t, Thresholds(coverage_target=0.6, gap_metric="gap_months",
                                     gap_tolerance=2))
    # A: f0 (0.8, 0) and f2 (0.7, 1); B: all four; C: f0 only
    np.testing.assert_allclose(months["satisficing_share"], [0.5, 1.0, 0.25])
    # monotone: a higher target never raises any scenario's share
    prev = None
    for target in np.linspace(0, 1, 11):
        share = satisfies(t, Thresholds(coverage_target=target)).groupby(t["scenario"]).mean()
        if prev is not None:
            assert (share <= prev + 1e-12).all()
        prev = share


def test_regret_does_not_depend_on_thresholds_but_on_the_set():
    t = table()
    a = summarize(t, Thresholds(coverage_target=0.9))
    b = summarize(t, Thresholds(coverage_target=0.1))
    pd.testing.assert_series_equal(a["coverage_regret_max"], b["coverage_regret_max"])
    # dropping the scenario that is best in future 0 changes the others' regret there
    no_c = summarize(t[t["scenario"] != "C"], Thresholds())
    np.testing.assert_allclose(no_c["coverage_regret_max"], [0.1, 0.1], atol=1e-12)


def test_most_robust_under_each_criterion():
    s = summarize(table(), Thresholds(coverage_target=0.6, gap_tolerance=0.2))
    best, why = most_robust(s, "max_satisficing", Thresholds(coverage_target=0.6))
    assert best == "B"
    assert "100% of 4 futures" in why and "runner-up A" in why and why.endswith(".")
    assert most_robust(s, "minimax_regret_coverage")[0] == "A"
    assert most_robust(s, "minimax_regret_gap_risk")[0] == "B"
    assert most_robust(s, "best_worst_coverage")[0] == "B"
    assert most_robust(s, "best_worst_gap_risk")[0] == "B"
    assert set(criteria()) >= {"max_satisficing", "minimax_regret_gap_months"}
    with pytest.raises(ConfigError, match="allowed: max_satisficing"):
        most_robust(s, "nonsense")


def test_incomplete_futures_are_dropped_for_paired_comparison():
    t = table()
    t = t[~((t["scenario"] == "C") & (t["future"] == 3))]
    kept = complete_futures(t, ["coverage"])
    assert sorted(kept["future"].unique()) == [0, 1, 2]
    s = summarize(t)
    assert (s["futures"] == 3).all()


def test_tidy_outcomes_averages_replications_and_counts_gap_risk():
    runs = pd.DataFrame(
        {
            "scenario": ["A", "A", "A", "B", "B"],
            "future": [0, 0, 0, 0, 0],
            "replication": [0, 1, 2, 0, 1],
            "seed": [1, 2, 3, 1, 2],
            "coverage": [0.5, 0.7, 99.0, 0.4, 0.6],
            "gap_months": [2.0, 4.0, 99.0, 3.0, 5.0],
            "material_gap": [0.0, 1.0, 1.0, 1.0, 1.0],
            "material_gap_programme": [1.0, 1.0, 1.0, 0.0, 0.0],
            "material_gap_region_x": [0.0, 0.0, 1.0, 0.0, 1.0],
            "error": [None, None, "boom", None, None],
        }
    )
    t = tidy_outcomes(runs)
    assert list(t["scenario"]) == ["A", "B"]
    np.testing.assert_allclose(t["coverage"], [0.6, 0.5])
    np.testing.assert_allclose(t["gap_months"], [3.0, 4.0])
    np.testing.assert_allclose(t["gap_risk"], [0.5, 1.0])
    np.testing.assert_allclose(t["gap_risk_programme"], [1.0, 0.0])
    np.testing.assert_allclose(t["gap_risk_any_group"], [1.0, 0.5])  # max(programme, region_x)
    assert "material_gap" not in t.columns
    assert list(t["replications"]) == [2, 2]
    assert "seed" not in t.columns


def test_bad_input_names_field():
    with pytest.raises(ConfigError, match="gap_metric"):
        Thresholds(gap_metric="coverage")
    with pytest.raises(ConfigError, match="coverage_target"):
        Thresholds(coverage_target=1.5)
    with pytest.raises(ConfigError, match="gap_tolerance: expected a number"):
        Thresholds(gap_tolerance="high")
    with pytest.raises(ConfigError, match="lacks"):
        summarize(table().drop(columns="gap_risk"))


def test_ties_are_broken_by_mean_coverage_regret_and_said():
    t = table()
    # a target nobody meets: every share is 0, so mean coverage regret decides (A = B = 0.075
    # up to rounding, C = 0.2) and the sentence says so
    s = summarize(t, Thresholds(coverage_target=0.95))
    best, why = most_robust(s, "max_satisficing", Thresholds(coverage_target=0.95))
    assert best in ("A", "B")
    assert "tie is broken by the smaller mean regret in coverage" in why


def test_tidy_outcomes_skips_undefined_gap_flags():
    runs = pd.DataFrame({"scenario": ["A"] * 3, "future": [0] * 3, "replication": [0, 1, 2],
                         "coverage": [0.5, 0.6, 0.7], "gap_months": [5.0, np.nan, 1.0],
                         "material_gap": [1.0, np.nan, 0.0]})
    t = tidy_outcomes(runs)
    assert t.loc[0, "gap_risk"] == 0.5  # 1 of the 2 replications with a defined value
    assert t.loc[0, "gap_months"] == 3.0


def test_versus_reference_is_the_paired_difference_per_future():
    t = pd.DataFrame({"scenario": ["continuation", "A", "continuation", "A", "B"],
                      "future": [0, 0, 1, 1, 2], "gap_episodes": [10.0, 25.0, 5.0, 5.0, 7.0]})
    v = versus_reference(t)
    np.testing.assert_allclose(v["gap_episodes_vs_continuation"], [0.0, 15.0, 0.0, 0.0, np.nan])
    assert "gap_episodes_vs_continuation" not in versus_reference(t[t.scenario != "continuation"])
