"""Gap risk across replications (experiments/gap_risk.py): known answers and a coverage
simulation of the paired-difference interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments.gap_risk import (
    mcnemar_exact,
    newcombe_paired,
    paired_risk_difference,
    replication_risk,
    scenario_risks,
    wilson_interval,
)


def test_wilson_known_values():
    p, lo, hi = wilson_interval(8, 20)
    assert p == 0.4
    assert (lo, hi) == pytest.approx((0.2188065, 0.6134183), abs=1e-6)
    assert wilson_interval(0, 5)[1] == 0.0 and wilson_interval(5, 5)[2] == 1.0
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def test_mcnemar_exact_known_values():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 0) == pytest.approx(2 * 0.5**5)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)


def test_paired_difference_properties():
    a = [1, 1, 1, 0, 1, 0, np.nan, 1]
    b = [0, 1, 0, 0, 0, 0, 1, np.nan]
    d, lo, hi, p = paired_risk_difference(a, b)
    # pairs without NaN: (1,0),(1,1),(1,0),(0,0),(1,0),(0,0): d = 3/6
    assert d == pytest.approx(0.5) and lo < d < hi and -1 <= lo and hi <= 1
    assert p == pytest.approx(mcnemar_exact(3, 0))
    d2, lo2, hi2, _ = paired_risk_difference(b, a)  # swapping the scenarios mirrors the interval
    assert (d2, lo2, hi2) == pytest.approx((-d, -hi, -lo))
    d0, lo0, hi0, p0 = paired_risk_difference([1, 0, 0, 0, 0], [1, 0, 0, 0, 0])
    assert d0 == 0 and lo0 < 0 < hi0 and p0 == 1.0  # no replication differs: not [0, 0]


@pytest.mark.parametrize("reps", [5, 10, 30])
def test_paired_interval_covers_true_difference(reps):
    """Known-answer simulation: >= 93 % coverage in 2,000 datasets per case, for true risks
    0.05-0.5 in both scenarios and pairing correlations 0, 0.4 and 0.8."""
    rng = np.random.default_rng(reps)
    risks = (0.05, 0.1, 0.2, 0.35, 0.5)
    worst = 1.0
    for p1 in risks:
        for p2 in risks:
            for rho in (0.0, 0.4, 0.8):
                p11 = p1 * p2 + rho * math.sqrt(p1 * (1 - p1) * p2 * (1 - p2))
                cells = np.array([p11, p1 - p11, p2 - p11, 1 - p1 - p2 + p11])
                if cells.min() < 0:
                    continue  # correlation not attainable with these margins
                counts = rng.multinomial(reps, cells, size=2000)
                _, lo, hi = newcombe_paired(*counts.T)
                covered = np.mean((lo <= p1 - p2 + 1e-12) & (p1 - p2 <= hi + 1e-12))
                worst = min(worst, covered)
                assert covered >= 0.93, (reps, p1, p2, rho, covered)
    assert worst < 1.0  # the check can fail: some case is not trivially covered


def test_scenario_risks_groups_and_worst_group():
    flags = pd.DataFrame({"material_gap": [1, 0, 0, np.nan], "material_gap_programme": [1, 1, 0, 1],
                          "material_gap_area_health": [0, 0, 0, 0]})
    row = scenario_risks(flags)
    assert row["gap_risk"] == pytest.approx(1 / 3) and row["gap_count"] == 1
    assert row["gap_risk_programme"] == 0.75 and row["gap_risk_programme_count"] == 3
    assert row["gap_risk_area_health"] == 0.0
    assert row["gap_risk_any_group"] == 0.75 and row["gap_risk_any_group_name"] == "programme"
    assert row["gap_risk_any_group_hi"] == row["gap_risk_programme_hi"]


def test_replication_risk_per_key():
    flags = pd.Series([1.0, 0.0, np.nan, 1.0])
    keys = [pd.Series(["a", "a", "a", "b"])]
    risk = replication_risk(flags, keys)
    assert risk["a"] == 0.5 and risk["b"] == 1.0
