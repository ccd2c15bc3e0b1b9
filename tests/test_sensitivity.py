"""Known-answer checks of the sensitivity pipeline (the same driver the simulator uses).

Tolerances: every known index must lie within max(its own 95 % bootstrap half-width, 0.01)
of the analytic value AND within 0.03 absolute (N = 2^12 base samples, fixed seed).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from experiments.sensitivity import analysis as sa_core
from experiments.config import ConfigError
from experiments.space import parse_space, problem_from

PI = np.pi
ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def _values(df: pd.DataFrame, index: str, outcome: str = "y0") -> pd.DataFrame:
    part = df[(df["index"] == index) & (df["outcome"] == outcome)]
    return part.set_index("factor")[["value", "conf"]]


@pytest.fixture(scope="module")
def ishigami_result():
    return sa_core.run_sa(ishigami, ISHIGAMI, "sobol", 2**12, seed=3, num_resamples=200)


@pytest.mark.parametrize("index,truth", [("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)])
def test_ishigami_known_indices(ishigami_result, index, truth):
    got = _values(ishigami_result.indices, index)
    for name, expected in truth.items():
        value, conf = got.loc[name]
        err = abs(value - expected)
        assert err <= max(conf, 0.01), (name, index, value, conf)
        assert err <= 0.03, (name, index, value)


def test_zero_effect_factor_is_exactly_zero():
    problem = {"num_vars": 3, "names": ["a", "b", "null"], "bounds": [[0, 1]] * 3}

    def f(X):
        return X[:, 0] + 2 * X[:, 1] ** 2 + 0.0 * X[:, 2]

    sob = sa_core.run_sa(f, problem, "sobol", 256, seed=1).indices
    assert _values(sob, "ST").loc["null", "value"] == 0.0
    assert _values(sob, "ST").loc["null", "conf"] == 0.0
    assert _values(sob, "S1").loc["null", "value"] == 0.0
    assert _values(sob, "ST").loc["a", "value"] > 0.1
    mor = sa_core.run_sa(f, problem, "morris", 20, seed=1).indices
    assert _values(mor, "mu_star").loc["null", "value"] == 0.0
    assert _values(mor, "sigma").loc["null", "value"] == 0.0
    # the non-null factors have mu* = their mean |derivative| times the step (> 0)
    assert _values(mor, "mu_star").loc["a", "value"] == pytest.approx(1.0)


def test_grouped_indices_of_additive_function_add_up():
    coef = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
    space = parse_space({"factors": [
        {"path": f"model.x{i}", "name": f"x{i}", "bounds": [0, 1], "group": g}
        for i, g in enumerate(["g1", "g1", "g2", "g3", "g3"])
    ]})
    share = coef**2 / (coef**2).sum()  # variance shares of an additive function

    def f(X):
        return X @ coef

    grouped = sa_core.run_sa(f, problem_from(space, grouped=True), "sobol", 2**12, seed=5)
    single = sa_core.run_sa(f, problem_from(space), "sobol", 2**12, seed=5)
    assert grouped.design.units == ["g1", "g2", "g3"]
    assert len(grouped.design.X) == 2**12 * (3 + 2)  # one cross matrix per group
    s1_group = _values(grouped.indices, "S1")["value"]
    s1_single = _values(single.indices, "S1")["value"]
    theory = {"g1": share[0] + share[1], "g2": share[2], "g3": share[3] + share[4]}
    members = {"g1": ["x0", "x1"], "g2": ["x2"], "g3": ["x3", "x4"]}
    for g, expected in theory.items():
        assert s1_group[g] == pytest.approx(expected, abs=0.03)
        assert s1_group[g] == pytest.approx(s1_single[members[g]].sum(), abs=0.03)
        # additive: no interactions, total = first order
        assert _values(grouped.indices, "ST")["value"][g] == pytest.approx(expected, abs=0.03)
    assert s1_group.sum() == pytest.approx(1.0, abs=0.03)


def test_same_seed_same_indices_different_seed_differs(tmp_path):
    from experiments.sensitivity.driver import FULL_PRECISION
    from experiments.study.atomic import write_csv_atomic

    runs = [sa_core.run_sa(ishigami, ISHIGAMI, "sobol", 64, seed=s) for s in (11, 11, 12)]
    for i, r in enumerate(runs):
        write_csv_atomic(r.indices, tmp_path / f"indices{i}.csv", float_format=FULL_PRECISION)
    text = [(tmp_path / f"indices{i}.csv").read_bytes() for i in range(3)]
    assert text[0] == text[1]
    assert text[0] != text[2]
    pd.testing.assert_frame_equal(runs[0].convergence, runs[1].convergence)


def test_second_order_mismatch_is_caught_where_salib_is_silent():
    from SALib.analyze import sobol

    design = sa_core.sample(ISHIGAMI, "sobol", 8, seed=1, second_order=False)
    Y = ishigami(design.X)
    assert len(Y) == 40  # 8 x (3 + 2), also divisible by 2 x 3 + 2 = 8
    # SALib alone would read these 40 rows as N=5 second-order blocks, silently:
    sobol.analyze(ISHIGAMI, Y, calc_second_order=True, seed=1)
    with pytest.raises(ConfigError, match="second_order"):
        sa_core.analyze(design, Y, calc_second_order=True)
    # a design that claims second order but holds a first-order sample is refused too
    with pytest.raises(ConfigError, match="sample: X has shape"):
        sa_core.analyze(replace(design, second_order=True), Y)


def test_y_length_and_grouping_mismatch_are_caught():
    design = sa_core.sample(ISHIGAMI, "sobol", 16, seed=1)
    Y = ishigami(design.X)
    with pytest.raises(ConfigError, match="Y: has 79 rows but the sample has 80"):
        sa_core.analyze(design, Y[:-1])
    with pytest.raises(ConfigError, match="non-finite"):
        sa_core.analyze(design, np.where(np.arange(len(Y)) == 3, np.nan, Y))
    grouped = dict(ISHIGAMI, groups=["g", "g", "h"])
    with pytest.raises(ConfigError, match="sample: X has shape"):
        sa_core.analyze(replace(design, problem=grouped), Y)
    with pytest.raises(ConfigError, match="outcomes: 2 names for 1"):
        sa_core.analyze(design, Y, outcomes=["a", "b"])


@pytest.mark.parametrize("n", [0, 3, 100, 1000])
def test_sobol_n_must_be_power_of_two(n):
    with pytest.raises(ConfigError, match="power of two"):
        sa_core.sample(ISHIGAMI, "sobol", n, seed=1)


def test_sampling_setting_errors():
    with pytest.raises(ConfigError, match="method: unknown 'fast'; allowed: sobol, morris"):
        sa_core.sample(ISHIGAMI, "fast", 8, seed=1)
    with pytest.raises(ConfigError, match="num_levels"):
        sa_core.sample(ISHIGAMI, "morris", 8, seed=1, num_levels=5)
    normal = dict(ISHIGAMI, bounds=[[0, 1], [0, 1], [0, 1]], dists=["unif", "norm", "unif"])
    with pytest.raises(ConfigError, match="x2 use an unbounded distribution"):
        sa_core.sample(normal, "morris", 8, seed=1)


def test_convergence_uses_leading_blocks(ishigami_result):
    r = ishigami_result
    conv = r.convergence
    assert sorted(conv["n"].unique()) == [1024, 2048, 4096]
    assert np.allclose(conv["width"], 2 * conv["conf"])
    full = conv[conv["n"] == 4096].drop(columns=["n", "width"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(full, r.indices)
    quarter = r.design.leading(1024)
    assert np.array_equal(quarter.X, r.design.X[: 1024 * 5])
    direct = sa_core.analyze(quarter, r.Y[: 1024 * 5], ["y0"], sa_core.study_seeds(3, 0)["analysis"],
                             num_resamples=200)
    got = conv[conv["n"] == 1024].drop(columns=["n", "width"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, direct)
    # intervals shrink as N grows (for the clearly non-zero total indices)
    st = conv[conv["index"] == "ST"].pivot(index="factor", columns="n", values="width")
    assert (st[4096] < st[1024]).all()


def test_morris_leading_trajectories():
    r = sa_core.run_sa(ishigami, ISHIGAMI, "morris", 40, seed=2)
    assert sorted(r.convergence["n"].unique()) == [10, 20, 40]
    assert len(r.design.leading(10).X) == 10 * 4


def test_common_random_numbers_keep_null_factor_at_zero():
    """Replication r uses one seed at every point: a null factor gets ST = 0 exactly.

    With a fresh seed per point instead, model noise shows up as spurious total effect.
    """
    problem = {"num_vars": 2, "names": ["p", "null"], "bounds": [[0, 1]] * 2}

    def stochastic(X, seed):
        u = np.random.default_rng(seed).random(400)  # 400 simulated people
        return (u[None, :] < X[:, [0]]).mean(axis=1)  # share with u < p

    crn = sa_core.run_sa(stochastic, problem, "sobol", 256, seed=4, replications=3)
    assert _values(crn.indices, "ST").loc["null", "value"] == 0.0

    def independent(X, seed):
        rng = np.random.default_rng(seed)
        u = rng.random((len(X), 400))  # different people at every point
        return (u < X[:, [0]]).mean(axis=1)

    noisy = sa_core.run_sa(independent, problem, "sobol", 256, seed=4, replications=3)
    assert _values(noisy.indices, "ST").loc["null", "value"] > 0.001


def test_evaluate_averages_replications():
    X = np.arange(6, dtype=float).reshape(3, 2)
    Y = sa_core.evaluate(lambda X, seed: X[:, 0] + seed, X, seeds=[1, 3])
    assert Y.tolist() == [[2.0], [4.0], [6.0]]


def test_second_order_index_of_a_product_term():
    """f = a + b + a*b on U(-1, 1)^3: Var = 1/3 + 1/3 + 1/9, so S1 = 3/7, S2(a, b) = 1/7."""
    problem = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[-1, 1]] * 3}

    def f(X):
        return X[:, 0] + X[:, 1] + X[:, 0] * X[:, 1]

    r = sa_core.run_sa(f, problem, "sobol", 2**12, seed=1, second_order=True)
    assert len(r.design.X) == 2**12 * (2 * 3 + 2)
    s2 = r.indices[r.indices["index"] == "S2"].set_index(["factor", "factor2"])
    assert list(s2.index) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert s2.loc[("a", "b"), "value"] == pytest.approx(1 / 7, abs=0.03)
    assert abs(s2.loc[("a", "b"), "value"] - 1 / 7) <= s2.loc[("a", "b"), "conf"]
    assert abs(s2.loc[("a", "c"), "value"]) < 0.01
    s1 = _values(r.indices, "S1")["value"]
    assert s1["a"] == pytest.approx(3 / 7, abs=0.03) and s1["c"] == 0.0
