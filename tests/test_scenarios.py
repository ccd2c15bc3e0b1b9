"""Scenario primitives (exact values), shocks (what they change, when), library, errors."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from experiments.config import CONFIG_DIR, compose, group_options, run_config
from experiments.study.jobs import simulate
from scenarios import ScenarioError, build_scenario, build_schedule
from sim.params import ParameterError, build_params

SHORT = ["model.scale=50", "model.horizon_months=40"]


def test_constant_step_and_ramp_values():
    assert build_schedule(0.4, "x").value_at(99) == 0.4
    step = build_schedule({"kind": "step", "month": 10, "before": 0.0, "after": 1.0}, "x")
    assert [step.value_at(m) for m in (9, 10, 11)] == [0.0, 1.0, 1.0]
    ramp = build_schedule({"kind": "linear_ramp", "start": 10, "end": 20}, "x")
    assert [ramp.value_at(m) for m in (0, 10, 15, 20, 30)] == [0.0, 0.0, 0.5, 1.0, 1.0]


def test_co_financing_steps():
    sched = build_schedule({"kind": "co_financing", "start": 12, "initial": 0.1, "annual_step": 0.15,
                            "preparatory_years": 3, "grace_years": 1, "phase_out_years": 5}, "x")
    yearly = [round(sched.value_at(12 + 12 * y), 6) for y in range(10)]
    # preparatory: 0.10, 0.25, 0.40; grace: 0.40; phase-out: 0.40 + 0.6 x (1..5)/5
    assert yearly == [0.1, 0.25, 0.4, 0.4, 0.52, 0.64, 0.76, 0.88, 1.0, 1.0]
    assert sched.value_at(0) == 0.1
    assert sched.value_at(12 + 11) == 0.1 and sched.value_at(12 + 12) == 0.25  # steps on anniversaries


class _Readiness:
    def __init__(self, values):
        self.values = values
        self.readiness = 0.0


def _trigger_months(spec, readiness):
    sched = build_schedule(spec, "x")
    model = _Readiness(readiness)
    out = []
    for month, r in enumerate(readiness):
        model.readiness = r
        out.append(sched.value_at(month, model))
    return sched, out


def test_readiness_trigger_fires_on_the_kth_month_not_before():
    readiness = [0.7, 0.7, 0.5, 0.7, 0.7, 0.7, 0.7, 0.2, 0.2]
    sched, values = _trigger_months({"kind": "readiness_trigger", "threshold": 0.6, "months": 3}, readiness)
    # Streak broken at month 2; months 3, 4, 5 meet the threshold -> fires in month 5.
    assert sched.fired_month == 5
    assert values == [0, 0, 0, 0, 0, 1, 1, 1, 1]  # and stays handed over


def test_readiness_trigger_fallback_and_ramp():
    sched, values = _trigger_months({"kind": "readiness_trigger", "threshold": 0.9, "months": 2,
                                     "fallback_month": 4, "ramp_months": 4}, [0.1] * 9)
    assert sched.fired_month == 4
    assert values == [0, 0, 0, 0, 0.25, 0.5, 0.75, 1.0, 1.0]


@pytest.mark.parametrize("name", group_options("scenario"))
def test_every_library_scenario_loads_runs_and_has_a_description(name):
    spec = yaml.safe_load((CONFIG_DIR / "scenario" / f"{name}.yaml").read_text())
    assert spec["name"] == name and len(spec["description"]) > 40
    res = simulate(run_config(compose("config", [f"scenario={name}", *SHORT])), 1)
    assert res.outcomes["arrivals"] > 0 and 0 <= res.outcomes["coverage"] <= 1


def _base(extra_shocks=(), scenario="status_quo", seed=2):
    cfg = run_config(compose("config", [f"scenario={scenario}", *SHORT]))
    cfg["scenario"]["shocks"] = list(extra_shocks)
    return simulate(cfg, seed)


def test_return_surge_adds_arrivals_only_in_its_window_and_leaves_other_streams():
    base = _base()
    surge = _base([{"kind": "return_surge", "persons": 1500, "start": 10, "duration": 2,
                    "modality_mix": {"humanitarian_transit": 1.0}}])
    diff = surge.timeseries["arrivals"] - base.timeseries["arrivals"]
    assert (diff[:10] == 0).all() and (diff[12:] == 0).all()
    assert 1000 < diff[10:12].sum() < 2000  # 1,500 persons +- Poisson noise at scale 50
    # The regular arrivals (rows drawn from the arrivals stream) are identical.
    b, s = base.model.population, surge.model.population
    regular = s.view("arrival") < 10
    assert np.array_equal(b.view("modality")[: regular.sum()], s.view("modality")[regular])
    extra = (s.view("arrival") >= 10) & (s.view("arrival") < 12)
    assert (s.view("modality")[extra] == 1).sum() > 0


def test_funding_cut_changes_that_funder_in_that_window_only():
    base = _base()
    cut = _base([{"kind": "funding_cut", "funder": "eu_return_programme", "size": 0.5, "start": 12, "duration": 6}])
    col = "budget_iom_avrr"
    ratio = cut.timeseries[col] / base.timeseries[col]
    assert np.allclose(ratio[12:18], 0.5) and np.allclose(ratio[:12], 1.0) and np.allclose(ratio[18:], 1.0)
    assert cut.timeseries["budget_giz_centre"].equals(base.timeseries["budget_giz_centre"])
    assert cut.timeseries["arrivals"].equals(base.timeseries["arrivals"])


def test_political_will_drop_and_restore():
    res = _base([{"kind": "political_will_drop", "size": 0.3, "start": 10, "duration": 5}])
    base = _base()
    pw = res.timeseries["block_political_will"] - base.timeseries["block_political_will"]
    # Will also follows results (ownership), which the shock moves a little: hence the tolerance.
    assert np.allclose(pw[:10], 0)
    assert np.allclose(pw[10:15], -0.3, atol=0.005) and np.allclose(pw[15:], 0, atol=0.005)


def test_provider_closure_and_downturn():
    res = _base([{"kind": "provider_closure", "provider": "returnee_ngos", "start": 5, "duration": 3},
                 {"kind": "economic_downturn", "region": "edo", "size": 0.5, "start": 0}])
    assert (res.timeseries["budget_returnee_ngos"][5:8] == 0).all()
    assert (res.timeseries["budget_returnee_ngos"][:5] > 0).all()
    assert res.model.labour_factor.tolist() == [0.5, 1.0, 1.0, 1.0, 1.0]


def test_trust_shock_lowers_trust_from_its_month():
    base, shock = _base(), _base([{"kind": "trust_shock", "size": 0.5, "start": 10}])
    assert np.allclose(base.timeseries["trust_gov"][:10], shock.timeseries["trust_gov"][:10])
    assert (shock.timeseries["trust_gov"][10:] < base.timeseries["trust_gov"][10:]).all()


@pytest.mark.parametrize("bad, field", [
    ({"national_share": {"default": {"kind": "zigzag"}}}, "national_share.default.kind"),
    ({"national_share": {"default": {"kind": "linear_ramp", "start": 10}}}, "national_share.default.end"),
    ({"national_share": {"default": {"kind": "linear_ramp", "start": 10, "end": 5}}}, "national_share.default.end"),
    ({"national_share": {"default": 0.0, "overrides": [{"segments": ["housing"], "schedule": 1}]}},
     "national_share.overrides.0.segments"),
    ({"shocks": [{"kind": "funding_cut", "funder": "nobody", "size": 0.5, "start": 1}]}, "shocks.0.funder"),
    ({"shocks": [{"kind": "return_surge", "persons": -5, "start": 1}]}, "shocks.0.persons"),
    ({"safety_net": {"profiles": ["elderly"]}}, "safety_net.profiles"),
    ({"colour": "red"}, "colour"),
])
def test_bad_scenario_names_the_file_and_field(bad, field):
    spec = {"name": "bad", "national_share": {"default": 0.0}}
    spec.update(bad)
    params = build_params(run_config(compose("config", SHORT)))
    with pytest.raises(ScenarioError) as err:
        build_scenario(spec, params.country, source="configs/scenario/bad.yaml")
    assert "configs/scenario/bad.yaml" in str(err.value) and field in str(err.value)
    assert isinstance(err.value, ParameterError)


def test_overlapping_shocks_compose():
    base = _base()
    both = _base([{"kind": "funding_cut", "funder": "eu_return_programme", "size": 0.5, "start": 10},
                  {"kind": "funding_cut", "funder": "all_donors", "size": 0.5, "start": 12, "duration": 4}])
    ratio = both.timeseries["budget_iom_avrr"] / base.timeseries["budget_iom_avrr"]
    assert np.allclose(ratio[10:12], 0.5) and np.allclose(ratio[12:16], 0.25) and np.allclose(ratio[16:], 0.5)
