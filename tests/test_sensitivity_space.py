"""Parameter-space declarations, the SALib problem derived from them, and the simulator wiring."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.sensitivity import analysis as sa_core
from experiments.config import ConfigError, get_dotted
from experiments.space import (
    apply_values,
    check_paths,
    load_space,
    parse_space,
    problem_from,
)
from experiments.sensitivity.driver import SimulatorModel

SPACE = {
    "description": "toy",
    "factors": [
        {"path": "country.a", "bounds": [0, 1], "group": "g1"},
        {"path": "country.items.first.k", "dist": "triang", "bounds": [10, 20], "mode": 12,
         "kind": "integer", "group": "g1"},
        {"path": "scenario.s", "dist": "norm", "mean": 1.0, "sd": 0.2, "group": "g2"},
        {"path": "model.m", "dist": "truncnorm", "bounds": [0, 2], "mean": 1, "sd": 0.5,
         "apply": "scale", "group": "g2"},
        {"path": "model.lu", "dist": "logunif", "bounds": [0.01, 1.0]},
    ],
}
RUN_CONFIG = {
    "model": {"m": 4.0, "lu": 0.1},
    "country": {"a": 0.5, "items": [{"name": "first", "k": 15}, {"name": "second", "k": 1}]},
    "scenario": {"s": 1.0},
}


def test_problem_is_derived_from_the_declaration():
    space = parse_space(SPACE, "toy.yaml")
    assert problem_from(space) == {
        "num_vars": 5,
        "names": ["country.a", "country.items.first.k", "scenario.s", "model.m", "model.lu"],
        "bounds": [[0.0, 1.0], [10.0, 20.0, 0.2], [1.0, 0.2], [0.0, 2.0, 1.0, 0.5],
                   [0.01, 1.0]],
        "dists": ["unif", "triang", "norm", "truncnorm", "logunif"],
    }
    grouped = problem_from(space, grouped=True)
    assert grouped["groups"] == ["g1", "g1", "g2", "g2", "model.lu"]
    assert space.groups == ["g1", "g2", "model.lu"]


def test_sampled_values_follow_the_declared_distributions():
    space = parse_space(SPACE, "toy.yaml")
    X = sa_core.sample(problem_from(space), "sobol", 1024, seed=1).X
    assert X[:, 0].min() >= 0 and X[:, 0].max() <= 1
    assert 10 <= X[:, 1].min() and X[:, 1].max() <= 20
    # triangular with mode 12 on [10, 20]: mean (10 + 20 + 12) / 3 = 14
    assert X[:, 1].mean() == pytest.approx(14.0, abs=0.1)
    assert X[:, 2].mean() == pytest.approx(1.0, abs=0.02)
    assert X[:, 2].std() == pytest.approx(0.2, abs=0.01)
    assert 0 <= X[:, 3].min() and X[:, 3].max() <= 2
    assert np.log(X[:, 4]).mean() == pytest.approx(np.log(0.1), abs=0.05)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"dist": "uniform"}, r"toy.yaml: factors\[0\] \(country.a\).dist: unknown 'uniform'; "
                              r"allowed: unif, logunif, triang, norm, truncnorm, lognorm"),
        ({"bounds": [1, 0]}, r"factors\[0\] \(country.a\).bounds: low \(1\) must be < high \(0\)"),
        ({"bounds": [0.5, 0.5]}, r"bounds: low \(0.5\) must be < high"),
        ({"bounds": [0, "x"]}, r"bounds: must be a finite number"),
        ({"bounds": [0]}, r"bounds: must be \[low, high\]"),
        ({"mean": 1}, r"key\(s\) mean not used by dist 'unif'"),
        ({"kind": "str"}, r"\.kind: unknown 'str'; allowed: real, integer, categorical"),
        ({"apply": "add"}, r"\.apply: unknown 'add'; allowed: set, scale"),
        ({"dist": "norm", "bounds": None, "mean": 0, "sd": 0}, r"\.sd: must be > 0"),
        ({"dist": "triang", "mode": 2}, r"\.mode: must lie in \[0, 1\)"),
        ({"dist": "logunif", "bounds": [0, 1]}, r"logunif needs low > 0"),
        ({"dist": "norm"}, r"dist 'norm' needs mean, sd"),
    ],
)
def test_bad_factor_names_file_and_field(change, message):
    factor = {**SPACE["factors"][0], **change}
    factor = {k: v for k, v in factor.items() if v is not None}
    if factor.get("dist") == "norm" and "mean" not in change:
        factor.pop("bounds", None)
    with pytest.raises(ConfigError, match=message):
        parse_space({"factors": [factor]}, "toy.yaml")


def test_space_level_errors():
    dup = {"factors": [SPACE["factors"][0], SPACE["factors"][0]]}
    with pytest.raises(ConfigError, match=r"toy.yaml: factors: duplicate factor name\(s\) country.a"):
        parse_space(dup, "toy.yaml")
    with pytest.raises(ConfigError, match="needs a top-level 'factors:' list"):
        parse_space({"factor": []}, "toy.yaml")
    with pytest.raises(ConfigError, match="unknown top-level key"):
        parse_space({**SPACE, "bounds": 1}, "toy.yaml")
    with pytest.raises(ConfigError, match=r"factors\[0\].path: required"):
        parse_space({"factors": [{"bounds": [0, 1]}]}, "toy.yaml")
    with pytest.raises(ConfigError, match="space: unknown space 'nope'; allowed: .*default"):
        load_space("nope")
    one_group = parse_space({"factors": [{"path": "model.a", "bounds": [0, 1], "group": "g"},
                                         {"path": "model.b", "bounds": [0, 1], "group": "g"}]})
    with pytest.raises(ConfigError, match="grouped: .* 1 group"):
        problem_from(one_group, grouped=True)


def test_space_file_is_read(tmp_path):
    import yaml

    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    assert load_space(path).names == parse_space(SPACE).names
    path.write_text("factors:\n  - {path: model.a, bounds: [2, 1]}\n")
    with pytest.raises(ConfigError, match=f"{path}: factors\\[0\\] \\(model.a\\).bounds"):
        load_space(path)


def test_apply_values_sets_paths_rounds_and_scales():
    space = parse_space(SPACE, "toy.yaml")
    out = apply_values(RUN_CONFIG, space, space.from_sample([0.25, 13.6, 0.9, 0.5, 0.3]))
    assert out["country"]["a"] == 0.25
    assert out["country"]["items"][0]["k"] == 14 and isinstance(out["country"]["items"][0]["k"], int)
    assert out["country"]["items"][1]["k"] == 1
    assert out["scenario"]["s"] == 0.9
    assert out["model"]["m"] == 2.0  # scale: 0.5 x base 4.0
    assert RUN_CONFIG["model"]["m"] == 4.0  # the base is not modified
    assert get_dotted(out, "model.lu") == 0.3


def test_check_paths_names_the_missing_key():
    space = parse_space({"factors": [{"path": "country.b", "bounds": [0, 1]}]}, "toy.yaml")
    with pytest.raises(ConfigError, match="toy.yaml: factor country.b: country.b: no key 'b' here; allowed: a, items"):
        check_paths(space, RUN_CONFIG)
    scaled = parse_space({"factors": [{"path": "country.items", "bounds": [0, 1],
                                       "apply": "scale"}]}, "toy.yaml")
    with pytest.raises(ConfigError, match="apply=scale needs a number"):
        check_paths(scaled, RUN_CONFIG)


def _toy_runner(specs):
    """Stands in for the simulator: outcome = country.a + noise(seed)."""
    out = []
    for s in specs:
        noise = np.random.default_rng(s["seed"]).normal(0, 0.01)
        out.append({"coverage": s["config"]["country"]["a"] + noise,
                    "cost": s["config"]["model"]["m"], "other": 1.0})
    return out


def test_simulator_model_uses_common_seeds_and_named_outcomes():
    space = parse_space(SPACE, "toy.yaml")
    model = SimulatorModel(space, RUN_CONFIG, ["coverage", "cost"], runner=_toy_runner)
    design = sa_core.sample(problem_from(space), "sobol", 4, seed=1)
    seeds = [101, 202]
    jobs = model.jobs(design.X, seeds)
    assert len(jobs) == 2 * len(design.X)
    for r, seed in enumerate(seeds):
        assert {j["seed"] for j in jobs if j["replication"] == r} == {seed}
    Ys = model.evaluate_replicated(design.X, seeds)
    assert Ys.shape == (2, len(design.X), 2)
    np.testing.assert_allclose(Ys[:, :, 1], np.broadcast_to(4.0 * design.X[:, 3], (2, len(design.X))))
    assert list(model.runs.columns) == ["point", "replication", "seed", "coverage", "cost"]
    with pytest.raises(ConfigError, match="outcomes: unknown gap; allowed: cost, coverage, other"):
        SimulatorModel(space, RUN_CONFIG, ["gap"], runner=_toy_runner).evaluate_replicated(
            design.X, seeds)


def test_simulator_model_through_the_driver():
    space = parse_space(SPACE, "toy.yaml")
    model = SimulatorModel(space, RUN_CONFIG, ["coverage", "cost"], runner=_toy_runner)
    r = sa_core.run_sa(model, problem_from(space), "sobol", 64, seed=1, replications=2,
                       outcomes=["coverage", "cost"])
    st = r.indices[r.indices["index"] == "ST"].set_index(["outcome", "factor"])["value"]
    assert st["cost", "model.m"] == pytest.approx(1.0, abs=0.05)
    assert st["cost", "country.a"] == 0.0  # cost does not depend on country.a at all
    assert st["coverage", "country.a"] > 0.9
