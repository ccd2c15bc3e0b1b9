"""Exact answers on tiny hand-built worlds."""

from __future__ import annotations

import pytest

from scenarios import build_scenario
from sim.domain import Episode
from sim.params import ParameterError, build_params
from tiny import model_with_returnees, provider, states, world


def test_capacity_two_three_arrivals_third_waits():
    cfg = world([provider("prog", "external_implementer", "donor", slots=2)])
    model = model_with_returnees(cfg, 3)
    model.step()
    s = states(model)
    assert s.count(Episode.IN_SERVICE) == 2
    assert s.count(Episode.WAITING) == 1
    assert model.providers[0].capacity == 2
    # The waiting one is served when a slot frees (after 6 months of assistance).
    for _ in range(6):
        model.step()
    s = states(model)
    assert s.count(Episode.DONE) == 2 and s.count(Episode.IN_SERVICE) == 1


def _ending_donor(end: int) -> list[dict]:
    return [
        {"name": "donor", "kind": "donor", "monthly_budget": 1000.0, "cycle_months": 100,
         "renewal_prob": 0.0, "first_cycle_end": end},
        {"name": "treasury", "kind": "treasury", "monthly_budget": 20000.0, "fiscal_space": 1.0,
         "shares": {}},
    ]


def test_funding_ends_with_open_case_and_no_referral_drops_exactly_one():
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)], _ending_donor(2))
    model = model_with_returnees(cfg, 1)
    for _ in range(8):
        model.step()
    assert model.dropped_total == 1
    assert model.records[2]["dropped"] == 0  # interrupted in month 2 ...
    assert model.records[3]["dropped"] == 1  # ... dropped after the 2-month tolerance


def _national_pickup_world(exit_plan: bool):
    funders = _ending_donor(2)
    funders[1]["shares"] = {"agency": 1.0}
    cfg = world([provider("prog", "external_implementer", "donor", slots=1),
                 provider("agency", "national_agency", "treasury", slots=1, staff_cost=5000.0)],
                funders, gap_tolerance_months=1)
    cfg["country"]["system"]["initial"]["sops_referral"] = 1.0  # transfer succeeds w.p. 0.95
    scenario = {"name": "t", "national_share": {"default": 0.0}, "exit_plan": exit_plan}
    params = build_params(cfg)
    sc = build_scenario(scenario, params.country)
    return model_with_returnees(cfg, 1, scenario=sc)


def test_exit_plan_transfers_open_case_to_national_provider():
    model = _national_pickup_world(exit_plan=True)
    model.step(); model.step()  # months 0, 1: served by the programme
    assert model.population.ep_provider[0, 0] == 0
    model.step()  # month 2: programme closes, case transferred with a warm referral
    assert model.population.ep_provider[0, 0] == 1
    assert model.dropped_total == 0


def test_referral_help_yields_less_than_direct_help():
    direct = world([provider("prog", "external_implementer", "donor", slots=5)])
    referral = world([provider("prog", "external_implementer", "donor", slots=5,
                               areas={"economic": "referral"})])
    gains = []
    for cfg in (direct, referral):
        model = model_with_returnees(cfg, 1)
        before = float(model.population.score[0, 0])
        model.step()
        gains.append(float(model.population.score[0, 0]) - before)
    assert gains[0] == pytest.approx(0.05, abs=1e-6)
    assert gains[1] == pytest.approx(0.05 * 0.6, abs=1e-6)


def test_programme_serves_only_eligible_modalities():
    cfg = world([provider("prog", "external_implementer", "donor", slots=5, modalities=["forced"])])
    model = model_with_returnees(cfg, 2)  # both arrive as avrr_europe
    model.step()
    assert states(model).count(Episode.IN_SERVICE) == 0


def test_staff_follow_budget_with_hiring_lag_and_immediate_cuts():
    cfg = world([provider("prog", "external_implementer", "donor", slots=1, initial_staff=0.0,
                          hiring_lag_months=2.0)], _ending_donor(3))
    model = model_with_returnees(cfg, 0)
    staff = []
    for _ in range(4):
        model.step()
        staff.append(model.providers[0].staff)
    assert staff == pytest.approx([0.5, 0.75, 0.875, 0.0])
    assert all(p.spend <= p.budget + 1e-9 for p in model.providers)


def test_quality_per_service_area():
    """A provider can have one quality per area: the gain of each area follows its own quality."""
    needs_two = {"economic": 1.0, "social": 1.0, "training": 0.0, "psychosocial": 0.0, "health": 0.0,
                 "protection": 0.0}
    cfg = world([provider("prog", "external_implementer", "donor", slots=5,
                          areas={"economic": "direct", "social": "direct"},
                          quality={"economic": 1.0, "social": 0.5})])
    cfg["country"]["needs"] = {"standard": dict(needs_two), "vulnerable": dict(needs_two)}
    model = model_with_returnees(cfg, 1)
    before = model.population.score[0].copy()
    model.step()
    gain = model.population.score[0] - before
    assert gain[0] == pytest.approx(0.05, abs=1e-6)  # economic dimension, quality 1
    assert gain[1] == pytest.approx(0.025, abs=1e-6)  # social dimension, quality 0.5


def test_quality_mapping_must_cover_the_areas_offered():
    cfg = world([provider("prog", "external_implementer", "donor", slots=5,
                          areas={"economic": "direct", "social": "direct"}, quality={"economic": 1.0})])
    with pytest.raises(ParameterError, match=r"providers\.prog\.quality\.social"):
        build_params(cfg)


def test_spinup_months_run_neutral_and_are_not_reported():
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)], _ending_donor(2),
                spinup_months=3, horizon_months=5)
    scenario = build_scenario({"name": "t", "national_share": {"default": 1.0}}, build_params(cfg).country)
    model = model_with_returnees(cfg, 1, scenario=scenario)
    assert model.month == -3
    shares = []
    for _ in range(8):
        model.step()
        shares.append(model.shares.mean())
    assert [r["month"] for r in model.records] == [0, 1, 2, 3, 4]
    assert shares == [0.0] * 3 + [1.0] * 5  # the scenario starts at month 0
    assert model.records[1]["donor_spend"] == 1000.0 and model.records[2]["donor_spend"] == 0.0  # cycle ends at reported month 2


def test_renew_cycles_keeps_a_lapsing_donor_funded():
    cfg = world([provider("prog", "external_implementer", "donor", slots=1)], _ending_donor(2))
    country = build_params(cfg).country
    for renew, spend in ((False, 0.0), (True, 1000.0)):
        sc = build_scenario({"name": "t", "national_share": {"default": 0.0}, "renew_cycles": renew}, country)
        model = model_with_returnees(cfg, 1, scenario=sc)
        for _ in range(4):
            model.step()
        assert model.records[3]["donor_spend"] == spend
