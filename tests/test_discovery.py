"""Scenario discovery (PRIM) recovers a planted box; failure definitions; plain language."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError
from experiments.stress.discovery import Box, Failure, describe_box, discover, select_step

#: factor ranges of the synthetic space (different scales on purpose)
RANGES = {
    "funding_cut": (0.0, 0.8),
    "cut_month": (24.0, 60.0),
    "political_will": (0.1, 0.9),
    "trust": (0.2, 0.8),
    "surge": (1.0, 3.0),
}
#: the planted failure region: political will in [0.26, 0.50] and cut month >= 45.6
PLANTED = {"political_will": (0.26, 0.50), "cut_month": (45.6, 60.0)}
#: stated tolerance: each recovered bound within 6 % of the factor's range of the truth
TOL = 0.06


def synthetic(seed: int, n: int = 600, noise: float = 0.02) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({k: rng.uniform(lo, hi, n) for k, (lo, hi) in RANGES.items()})
    inside = np.ones(n, dtype=bool)
    for k, (lo, hi) in PLANTED.items():
        inside &= (x[k] >= lo) & (x[k] <= hi)
    flip = rng.random(n) < noise  # label noise: 2 % of futures flipped
    return x, inside ^ flip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_prim_recovers_planted_box(seed):
    x, y = synthetic(seed)
    d = discover(x, y)
    assert d.n == 600 and d.failures == int(y.sum())
    box = d.boxes[0]
    assert set(box.restricted) == set(PLANTED)
    for k, (lo, hi) in PLANTED.items():
        width = RANGES[k][1] - RANGES[k][0]
        got_lo, got_hi = box.limits[k]
        assert abs(got_lo - max(lo, d.ranges[k][0])) <= TOL * width, (k, got_lo, lo)
        assert abs(got_hi - min(hi, d.ranges[k][1])) <= TOL * width, (k, got_hi, hi)
    assert box.density >= 0.9
    assert box.coverage >= 0.7
    # mass of the planted box is 0.3 * 0.4 = 0.12 of the space
    assert box.mass == pytest.approx(0.12, abs=0.03)
    # unrestricted factors keep the data range
    assert box.limits["trust"] == d.ranges["trust"]
    # the trajectory trades coverage for density; exactly one step per box is selected
    traj = d.trajectories[d.trajectories["box"] == 1]
    assert traj["selected"].sum() == 1
    assert traj["coverage"].iloc[0] == pytest.approx(1.0)
    assert traj["density"].iloc[0] == pytest.approx(y.mean())
    assert traj["mass"].is_monotonic_decreasing or traj["mass"].iloc[-1] <= traj["mass"].iloc[0]


def test_table_one_row_per_box_and_factor():
    x, y = synthetic(1)
    d = discover(x, y)
    t = d.table()
    assert len(t) == len(d.boxes) * len(RANGES)
    first = t[t["box"] == 1].set_index("factor")
    assert set(first.index[first["restricted"]]) == set(PLANTED)
    assert first["qp_value"][list(PLANTED)].max() < 0.05
    assert first["qp_value"].drop(list(PLANTED)).isna().all()


def test_no_structure_gives_no_box_and_edge_cases():
    x, _ = synthetic(4)
    none = discover(x, np.zeros(len(x), dtype=bool))
    assert none.boxes == [] and none.failures == 0 and none.trajectories.empty
    allfail = discover(x, np.ones(len(x), dtype=bool))
    assert allfail.boxes == [] and allfail.base_rate == 1.0
    with pytest.raises(ConfigError, match="failure flags"):
        discover(x, np.zeros(3, dtype=bool))
    with pytest.raises(ConfigError, match="numeric"):
        discover(x.assign(name="a"), np.zeros(len(x), dtype=bool))


def test_select_step_rule():
    traj = pd.DataFrame(
        {"coverage": [1.0, 0.9, 0.6, 0.6, 0.4], "density": [0.1, 0.5, 0.8, 0.8, 1.0]}
    )
    assert select_step(traj, 0.5) == 2  # densest with coverage >= 0.5; earlier on ties
    assert select_step(traj, 0.95) == 0
    assert select_step(traj, 0.0) == 4
    assert select_step(traj.assign(coverage=[0.3, 0.2, 0.1, 0.1, 0.1]), 0.5) == 0


def test_failure_definition():
    t = pd.DataFrame({"gap_months": [0.0, 2.9, 3.0, 7.0]})
    assert list(Failure().mask(t)) == [False, False, True, True]
    assert list(Failure("gap_months", "<", 3).mask(t)) == [True, True, False, False]
    assert Failure().describe() == "gap_months ≥ 3"
    with pytest.raises(ConfigError, match="allowed: >=, >, <=, <"):
        Failure(op="=>")
    with pytest.raises(ConfigError, match="outcome"):
        Failure("coverage").mask(t)


def test_describe_box_plain_language():
    ranges = {"political_will": (0.1, 0.9), "funding_cut": (0.0, 0.8), "cut_month": (24, 60)}
    box = Box(
        index=1,
        limits={"political_will": (0.1, 0.3), "funding_cut": (0.6, 0.8), "cut_month": (30, 48)},
        restricted=["political_will", "funding_cut", "cut_month"],
        coverage=0.7,
        density=0.82,
        mass=0.12,
        step=5,
    )
    labels = {
        "political_will": {"label": "political will"},
        "funding_cut": {"label": "the funding cut", "unit": "share"},
        "cut_month": {"label": "the cut", "unit": "month"},
    }
    text = describe_box(box, ranges, "abrupt_exit", Failure(), labels)
    assert text == (
        "abrupt_exit fails (gap_months ≥ 3) in 82% of futures where political will is "
        "below 0.3 and the funding cut exceeds 60% and the cut is between month 30 and "
        "month 48 (this region holds 70% of all failures and 12% of futures)."
    )


def test_describe_box_ignores_slivers():
    ranges = {"cut": (0.03, 0.78)}
    box = Box(1, {"cut": (0.50, 0.765)}, ["cut"], coverage=1.0, density=0.75, mass=0.33, step=3)
    labels = {"cut": {"label": "the donor funding cut", "unit": "share"}}
    text = describe_box(box, ranges, "readiness_triggered", Failure(threshold=80), labels)
    assert "where the donor funding cut exceeds 50% (" in text
    # with min_trim=0 the sliver at the top is named too
    text0 = describe_box(box, ranges, "r", Failure(), labels, min_trim=0.0)
    assert "is between 50% and 76%" in text0


def test_describe_box_leaves_out_sliver_only_factors():
    ranges = {"pw": (0.2, 0.8), "fs": (0.3, 1.0)}
    box = Box(1, {"pw": (0.2, 0.5), "fs": (0.3, 0.98)}, ["pw", "fs"], 0.9, 0.8, 0.4, 2)
    text = describe_box(box, ranges, "s", Failure())
    assert "where pw is below 0.5 (" in text
    only = Box(1, {"pw": (0.2, 0.8), "fs": (0.3, 0.98)}, ["fs"], 0.9, 0.8, 0.4, 2)
    assert "where fs is between 0.3 and 0.98 (" in describe_box(only, ranges, "s", Failure())
