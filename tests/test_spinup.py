"""Reuse of the spin-up shared by scenarios (sim/spinup.py): a forked model runs exactly as a
fresh one, the cache only hits on equal parameters and seed, and studies order their jobs so
that workers can reuse it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from experiments.config import compose, run_config
from experiments.study.jobs import simulate, spinup_group
from experiments.study.runner import by_spinup_group
from scenarios import build_scenario
from sim import build_params, run
from sim.model import HandoverModel
from sim.spinup import SpinupCache

LIBRARY = ["status_quo", "abrupt_exit", "linear_taper", "readiness_triggered", "continuation",
           "hybrid_safety_net", "co_financing_ramp", "phased_by_area", "phased_by_profile",
           "phased_by_stage"]
SMALL = ["model.scale=40", "model.horizon_months=48", "model.spinup_months=12"]


def _setup(name: str, extra: tuple[str, ...] = ()):
    cfg = run_config(compose("config", [*SMALL, f"scenario={name}", *extra]))
    params = build_params(cfg)
    return params, build_scenario(cfg["scenario"], params.country, source=name)


def _fingerprint(result) -> tuple:
    """Outcomes, the monthly table and a hash of every population column."""
    pop = result.model.population
    columns = {k: hashlib.sha256(np.ascontiguousarray(v[: pop.n]).tobytes()).hexdigest()
               for k, v in vars(pop).items() if isinstance(v, np.ndarray)}
    def nan_safe(values):  # NaN == NaN
        return [None if v != v else v for v in values]

    outcomes = nan_safe(result.outcomes.values()), list(result.outcomes)
    series = {k: nan_safe(v) for k, v in result.timeseries.to_dict("list").items()}
    return outcomes, series, columns


def test_forked_runs_equal_fresh_runs_for_every_library_scenario():
    cache = SpinupCache()
    for name in LIBRARY:
        params, scenario = _setup(name)
        fresh = run(params, scenario, 11)
        forked = run(params, scenario, 11, cache=cache)
        assert _fingerprint(forked) == _fingerprint(fresh), name
    assert (cache.misses, cache.hits) == (1, len(LIBRARY) - 1)


def test_cache_misses_on_another_seed_or_parameter():
    cache = SpinupCache()
    params, scenario = _setup("status_quo")
    run(params, scenario, 1, cache=cache)
    run(params, scenario, 2, cache=cache)  # another seed
    other, _ = _setup("status_quo", ("country.returnees.help_seeking=0.2",))
    again = run(other, scenario, 2, cache=cache)  # another parameter
    assert (cache.misses, cache.hits) == (3, 0)
    assert _fingerprint(again) == _fingerprint(run(other, scenario, 2))


def test_cache_skips_models_above_its_size_limit():
    cache = SpinupCache(max_bytes=1)
    params, scenario = _setup("abrupt_exit")
    first = run(params, scenario, 3, cache=cache)
    second = run(params, scenario, 3, cache=cache)
    assert (cache.misses, cache.hits) == (2, 0)
    assert _fingerprint(first) == _fingerprint(second) == _fingerprint(run(params, scenario, 3))


def test_fork_needs_a_model_at_month_zero():
    params, scenario = _setup("status_quo")
    model = HandoverModel(params, scenario, 1)
    with pytest.raises(RuntimeError, match="month 0"):
        model.fork(scenario)  # not spun up
    model.spin_up()
    twin = model.fork(scenario)
    twin.step()
    with pytest.raises(RuntimeError, match="month 0"):
        twin.fork(scenario)  # already running
    assert model.month == 0  # the original is untouched by its twin's step


def test_simulate_with_reuse_equals_simulate_without():
    cfg = run_config(compose("config", [*SMALL, "scenario=linear_taper"]))
    assert _fingerprint(simulate(cfg, 5, reuse_spinup=True)) == _fingerprint(simulate(cfg, 5))


def test_jobs_sharing_a_spinup_run_one_after_another():
    base = {"model": {"scale": 10}, "country": {"name": "x"}}
    specs = [{"config": {**base, "scenario": {"name": sc}}, "seed": seed, "scenario": sc}
             for sc in ("a", "b", "c") for seed in (1, 2)]
    assert spinup_group(specs[0]) == spinup_group(specs[2]) != spinup_group(specs[1])
    pending = [(f"k{i}", s, False) for i, s in enumerate(specs)]
    ordered = [key for key, _, _ in by_spinup_group(pending)]
    # seed 1 of a, b, c first (in the order built), then seed 2
    assert ordered == ["k0", "k2", "k4", "k1", "k3", "k5"]
    toy = [("t0", {"x": 1}, False), ("t1", {"x": 2}, False)]
    assert by_spinup_group(toy) == toy  # specs without a run configuration keep their order


def test_a_released_model_frees_its_arrays_without_the_garbage_collector():
    import gc
    import weakref

    params, scenario = _setup("status_quo")
    gc.disable()
    try:
        result = run(params, scenario, 4)
        arrays = weakref.ref(result.model.population.ep)
        result.model.release()
        assert arrays() is None  # freed at once, although model and agents form a cycle
        with pytest.raises(RuntimeError, match="released"):
            result.model.step()
    finally:
        gc.enable()


def test_the_cache_releases_the_model_it_replaces():
    import weakref

    cache = SpinupCache()
    params, scenario = _setup("status_quo")
    run(params, scenario, 1, cache=cache)
    old = weakref.ref(cache._model.population.ep)
    run(params, scenario, 2, cache=cache)  # another seed replaces the cached model
    assert old() is None


def test_agent_months_count_the_spinup_and_the_reported_months():
    """`agent_months` is the reported `active` column summed (in agents) plus the spin-up's
    active agents; with no spin-up the two are equal."""
    params, scenario = _setup("status_quo", ("model.spinup_months=0",))
    result = run(params, scenario, seed=3)
    reported = result.timeseries["active"].sum() / params.model.scale
    assert result.model.agent_months == pytest.approx(reported, abs=1e-9) and reported > 0
    params, scenario = _setup("status_quo")
    model = HandoverModel(params, scenario, seed=3)
    spinup = 0
    while model.month < 0:
        model.step()
        spinup += len(model._act)
    assert model.agent_months == spinup > 0
    result = run(params, scenario, seed=3)
    reported = result.timeseries["active"].sum() / params.model.scale
    assert result.model.agent_months == pytest.approx(spinup + reported, abs=1e-9)
