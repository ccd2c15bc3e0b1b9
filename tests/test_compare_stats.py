"""Known-answer tests of experiments.compare.paired (comparison statistics)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.config import ConfigError
from experiments.compare.paired import (
    comparison_table,
    paired_differences,
    paired_t,
    pareto_tiers,
    rank_scenarios,
    scenario_summary,
    t_interval,
    welch_interval,
    wilson_interval,
)


def test_t_interval_hand_computed():
    # x = 1..5: mean 3, sd = sqrt(2.5), se = sqrt(0.5); t_{0.975,4} = 2.776445105
    mean, lo, hi = t_interval([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(0.5)
    assert mean == 3.0
    assert lo == pytest.approx(3 - half, abs=1e-12)
    assert hi == pytest.approx(3 + half, abs=1e-12)
    assert hi == pytest.approx(4.963243161, abs=1e-8)


def test_t_interval_degenerate():
    assert t_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    m, lo, hi = t_interval([4.0])
    assert m == 4.0 and math.isnan(lo) and math.isnan(hi)


def test_wilson_textbook_values():
    # 5/10: textbook Wilson 95 % interval (0.2366, 0.7634).
    p, lo, hi = wilson_interval(5, 10)
    assert p == 0.5
    assert lo == pytest.approx(0.236593, abs=1e-6)
    assert hi == pytest.approx(0.763407, abs=1e-6)
    # 0/10: lower 0, upper z^2/(n+z^2).
    z2 = 1.959963984540054**2
    p, lo, hi = wilson_interval(0, 10)
    assert (p, lo) == (0.0, 0.0)
    assert hi == pytest.approx(z2 / (10 + z2), abs=1e-12)
    # symmetric: 10/10 mirrors 0/10
    _, lo10, hi10 = wilson_interval(10, 10)
    assert hi10 == 1.0 and lo10 == pytest.approx(1 - hi, abs=1e-12)


def test_wilson_hand_formula_asymmetric():
    k, n, z = 3, 30, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    _, lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(centre - half, abs=1e-12)
    assert hi == pytest.approx(centre + half, abs=1e-12)


@pytest.mark.parametrize(
    "k,n,lo,hi",
    # Newcombe (1998), Stat Med 17:857-872, Table I, method 3 (score interval, no CC).
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
     (1, 29, 0.0061, 0.1718)],
)
def test_wilson_published_values(k, n, lo, hi):
    _, got_lo, got_hi = wilson_interval(k, n)
    assert got_lo == pytest.approx(lo, abs=5e-5)
    assert got_hi == pytest.approx(hi, abs=5e-5)


def test_wilson_rejects_bad_k():
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_paired_matches_scipy_ttest_rel():
    a = np.array([10.0, 12.0, 9.0, 14.0, 11.0, 13.0])
    b = np.array([9.0, 11.5, 8.0, 12.0, 10.5, 12.0])
    diff, lo, hi, p = paired_t(a, b)
    res = stats.ttest_rel(a, b)
    assert p == pytest.approx(res.pvalue, rel=1e-12)
    ci = res.confidence_interval(0.95)
    assert lo == pytest.approx(ci.low, rel=1e-12)
    assert hi == pytest.approx(ci.high, rel=1e-12)
    # hand: d = 1, .5, 1, 2, .5, 1 -> mean 1.0
    assert diff == pytest.approx(1.0)


def test_welch_matches_scipy():
    a = [1.0, 2.0, 4.0, 7.0]
    b = [2.0, 2.5, 3.0, 3.5, 4.0]
    diff, lo, hi = welch_interval(a, b)
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    assert diff == pytest.approx(3.5 - 3.0)
    assert lo == pytest.approx(ci.low, rel=1e-10)
    assert hi == pytest.approx(ci.high, rel=1e-10)


def _runs(corr_noise: float, seed: int = 0, r: int = 20) -> pd.DataFrame:
    """Two scenarios sharing a per-replication effect (common random numbers)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 1.0, r)
    rows = []
    for name, shift in (("status_quo", 0.0), ("other", 0.3)):
        own = rng.normal(0, corr_noise, r)
        for i in range(r):
            rows.append(
                {
                    "scenario": name,
                    "replication": i,
                    "seed": 100 + i,
                    "coverage": 0.5 + shift + common[i] + own[i],
                    "gap_months": float(i % 5),
                    "material_gap": float(i % 5 >= 3),
                    "material_gap_vulnerable": float(i % 4 == 0),
                }
            )
    return pd.DataFrame(rows)


def test_paired_narrower_than_unpaired_when_positively_correlated():
    runs = _runs(corr_noise=0.1)
    d = paired_differences(runs, ["coverage"], "status_quo")
    row = d[(d.scenario == "other") & (d.outcome == "coverage")].iloc[0]
    paired_w = row.diff_hi - row.diff_lo
    unpaired_w = row.unpaired_hi - row.unpaired_lo
    assert paired_w < 0.3 * unpaired_w
    assert row.n_pairs == 20
    # and the paired result matches scipy on the matched vectors
    a = runs[runs.scenario == "other"].sort_values("replication").coverage
    b = runs[runs.scenario == "status_quo"].sort_values("replication").coverage
    assert row.p_value == pytest.approx(stats.ttest_rel(a.values, b.values).pvalue)


def test_pairing_is_by_replication_not_row_order():
    runs = _runs(corr_noise=0.1)
    shuffled = runs.sample(frac=1.0, random_state=3)
    d1 = paired_differences(runs, ["coverage"], "status_quo")
    d2 = paired_differences(shuffled, ["coverage"], "status_quo")
    pd.testing.assert_frame_equal(d1.reset_index(drop=True), d2.reset_index(drop=True))


def test_summary_and_gap_risk():
    runs = _runs(corr_noise=0.1, r=20)
    s = scenario_summary(runs, ["coverage"]).set_index("scenario")
    # material_gap = (i % 5 >= 3) over i=0..19: 8 of 20
    assert s.loc["other", "gap_count"] == 8
    assert s.loc["other", "gap_risk"] == pytest.approx(0.4)
    p, lo, hi = wilson_interval(8, 20)
    assert (s.loc["other", "gap_risk_lo"], s.loc["other", "gap_risk_hi"]) == (lo, hi)
    assert s.loc["other", "gap_risk_vulnerable"] == pytest.approx(5 / 20)
    assert s.loc["other", "gap_risk_vulnerable_count"] == 5
    assert s.loc["other", "gap_risk_any_group"] == pytest.approx(0.25)
    assert s.loc["other", "gap_risk_any_group_name"] == "vulnerable"
    m, lo, hi = t_interval(runs[runs.scenario == "other"].coverage)
    assert s.loc["other", "coverage_mean"] == m
    assert s.loc["other", "n"] == 20


def test_reference_unknown_is_config_error():
    with pytest.raises(ConfigError, match="reference"):
        paired_differences(_runs(0.1), ["coverage"], "nope")


def test_rank_pareto_tiers_then_gaps_then_coverage_with_ties():
    summary = pd.DataFrame(
        {
            "scenario": ["a", "b", "c", "d", "e"],
            "coverage_mean": [0.7, 0.9, 0.7, 0.7, 0.6],
            "gap_risk": [0.2, 0.5, 0.1, 0.2, 0.3],
            "gap_episodes_mean": [50.0, 10.0, 40.0, 50.0, 60.0],
            "dropped_cases_mean": [5.0, 9.0, 1.0, 5.0, 0.0],
        }
    )
    # c and b are on the Pareto front (tier 1); c has the lower gap risk so ranks first.
    # a and d (tied) are beaten by c on all three: tier 2; e is beaten by a: tier 3.
    assert list(pareto_tiers(summary)) == [2, 1, 1, 2, 3]
    assert list(rank_scenarios(summary)) == [3, 2, 1, 3, 5]


def test_rank_puts_steady_design_above_spike_and_crash():
    summary = pd.DataFrame({"scenario": ["steady", "spiky"], "coverage_mean": [0.30, 0.35],
                            "gap_risk": [0.0, 1.0], "gap_episodes_mean": [0.0, 5000.0]})
    assert list(rank_scenarios(summary)) == [1, 2]


def test_comparison_table_shape():
    runs = _runs(corr_noise=0.1)
    t = comparison_table(runs, ["coverage"], "status_quo")
    assert list(t.columns[:2]) == ["scenario", "n"]
    assert {"diff_coverage", "diff_coverage_lo", "diff_coverage_hi", "diff_gap_risk", "rank"} <= set(
        t.columns
    )
    ref = t.set_index("scenario").loc["status_quo"]
    assert ref.diff_coverage == 0.0
    other = t.set_index("scenario").loc["other"]
    assert other.diff_coverage == pytest.approx(other.coverage_mean - ref.coverage_mean)
    # identical gap pattern in both scenarios -> paired gap difference exactly 0
    assert other.diff_gap_risk == 0.0 and other.diff_gap_risk_p == 1.0
    assert sorted(t["rank"]) == [1, 2]
