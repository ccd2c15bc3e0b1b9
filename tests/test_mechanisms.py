"""Exact and directional answers for the handover mechanisms: the treasury's budget process,
cost-weighted donor withdrawal, transfers through the referral mechanism."""

from __future__ import annotations

import copy

import pytest

from scenarios import build_scenario
from sim.params import build_params
from tiny import model_with_returnees, provider, world


def _world(treasury: dict | None = None, donor: dict | None = None, **model) -> dict:
    """A programme (donor-funded) and a national agency (treasury-funded)."""
    funders = [
        {"name": "donor", "kind": "donor", "monthly_budget": 1000.0, "cycle_months": 100,
         "renewal_prob": 1.0, "first_cycle_end": 100, **(donor or {})},
        {"name": "treasury", "kind": "treasury", "monthly_budget": 2000.0, "fiscal_space": 1.0,
         "budget_responsiveness": 0.0, "shares": {"agency": 1.0}, **(treasury or {})},
    ]
    cfg = world([provider("prog", "external_implementer", "donor", slots=5),
                 provider("agency", "national_agency", "treasury", slots=5)], funders, **model)
    # A still system (blocks and will do not move), so money rules can be checked exactly.
    cfg["country"]["system"].update(adjustment_months=1e9, will_results=0.0, will_fiscal=0.0)
    return cfg


def _run(cfg: dict, scenario: dict, months: int = 6, n: int = 0):
    params = build_params(copy.deepcopy(cfg))
    sc = build_scenario({"name": "t", **scenario}, params.country)
    model = model_with_returnees(cfg, n, scenario=sc)
    for _ in range(months):
        model.step()
    return model


HAND_OVER_ALL = {"national_share": {"default": 1.0}, "donor_follows_share": True,
                 "national_takeover": 1.0}


def test_treasury_without_fiscal_space_adds_nothing_however_much_is_handed_over():
    model = _run(_world({"fiscal_space": 0.0}), HAND_OVER_ALL)
    assert [r["donor_withdrawn"] for r in model.records] == [1000.0] * 6
    assert [r["national_allocation"] for r in model.records] == [0.0] * 6


def test_treasury_honours_only_its_declared_share_of_the_pledge():
    # own = 2000 x will 0.5 = 1000; pledge = 1 x 1000 withdrawn, honoured 0.5 -> 500.
    model = _run(_world({"commitment_honoured": 0.5}), HAND_OVER_ALL)
    assert [r["national_allocation"] for r in model.records] == pytest.approx([1500.0] * 6)
    assert model.records[0]["treasury_committed"] == 1000.0
    assert model.records[0]["treasury_fulfilment"] == pytest.approx(0.5)


def test_competing_priorities_take_what_no_budget_line_protects():
    # Budget block 0.5 at month 0: 1 - 0.4 x (1 - 0.5) = 0.8 of (1000 own + 1000 pledged).
    model = _run(_world({"competing_priorities": 0.4}), HAND_OVER_ALL, months=1)
    assert model.records[0]["national_allocation"] == pytest.approx(1600.0)


def test_withdrawal_counts_only_money_of_active_donors():
    cfg = _world(donor={"renewal_prob": 0.0, "first_cycle_end": 3})
    model = _run(cfg, {"national_share": {"default": 0.5}, "donor_follows_share": True,
                       "national_takeover": 1.0})
    withdrawn = [r["donor_withdrawn"] for r in model.records]
    assert withdrawn == [500.0, 500.0, 500.0, 0.0, 0.0, 0.0]
    # Once the programme lapses the treasury is back to its own allocation (1000).
    assert model.records[-1]["national_allocation"] == pytest.approx(1000.0)


def test_handing_over_stages_that_carry_no_capacity_withdraws_no_donor_money():
    stages = {"national_share": {"default": 0.0, "overrides": [
        {"segments": ["stages"], "schedule": 1.0}]}, "donor_follows_share": True}
    model = _run(_world(), stages)
    assert [r["donor_allocation"] for r in model.records] == [1000.0] * 6
    areas = {"national_share": {"default": 0.0, "overrides": [
        {"segments": ["economic"], "schedule": 1.0}]}, "donor_follows_share": True}
    model = _run(_world(), areas)  # the programme's only area: all its cost is handed over
    assert [r["donor_allocation"] for r in model.records] == [0.0] * 6


def test_matching_condition_scales_donor_money_by_the_treasury_fulfilment():
    half = {"national_share": {"default": 0.5}, "donor_follows_share": True,
            "national_takeover": 1.0, "matching_condition": True}
    model = _run(_world({"commitment_honoured": 0.5}), half, months=3)
    # Month 0: no record of fulfilment yet (1); then the treasury delivers half its pledge.
    assert [r["donor_allocation"] for r in model.records] == pytest.approx([500.0, 250.0, 250.0])
    assert [r["donor_withdrawn"] for r in model.records] == pytest.approx([500.0] * 3)


def _transfer_world(trust: float, n: int = 400):
    cfg = _world(donor={"renewal_prob": 0.0, "first_cycle_end": 2}, gap_tolerance_months=1)
    cfg["country"]["providers"][0]["cases_per_staff"] = n
    cfg["country"]["providers"][1]["cases_per_staff"] = n
    cfg["country"]["funders"][1]["monthly_budget"] = 1e6  # ample national capacity
    cfg["country"]["returnees"]["transfer_trust_weight"] = 1.0
    params = build_params(copy.deepcopy(cfg))
    sc = build_scenario({"name": "t", "national_share": {"default": 0.0}, "exit_plan": True},
                        params.country)
    model = model_with_returnees(cfg, n, scenario=sc)
    model.population.trust_gov[:n] = trust
    model.step(); model.step()  # months 0, 1: all served by the programme
    assert (model.population.ep_provider[:n, 0] == 0).all()
    model.step()  # month 2: the programme closes; open cases go to the referral mechanism
    return model


def test_a_failed_transfer_is_an_interruption_and_is_dropped():
    model = _transfer_world(trust=0.0)  # the returnee refuses the government: transfer fails
    assert model.dropped_total == 400
    assert model.records[2]["dropped"] == 400


def test_transfer_succeeds_with_the_referral_success_times_acceptance():
    model = _transfer_world(trust=0.6)
    p = (0.2 + 0.75 * 0.5) * 0.6  # referral success at sops 0.5, acceptance = trust
    moved = (model.population.ep_provider[:400, 0] == 1).mean()
    se = (p * (1 - p) / 400) ** 0.5
    assert abs(moved - p) < 4 * se
    assert model.dropped_total == 400 - (model.population.ep_provider[:400, 0] == 1).sum()


def _fired_month(ta: float, responsiveness: float) -> int:
    from experiments.config import compose, run_config, set_dotted
    from sim import run

    cfg = run_config(compose("config", [
        "scenario=readiness_triggered", "model.scale=100", "model.horizon_months=84",
        f"scenario.technical_assistance.after={ta}"]))
    set_dotted(cfg, "country.funders.treasury.budget_responsiveness", responsiveness)
    set_dotted(cfg, "country.funders.bilateral_giz.technical_assistance", 0.0)
    params = build_params(cfg)
    sc = build_scenario(cfg["scenario"], params.country)
    model = run(params, sc, seed=3).model  # the model runs its own copy of the scenario
    fired = model.scenario.cells[0][0].fired_month
    return 10_000 if fired is None else fired


def test_readiness_trigger_waits_longer_without_technical_assistance_or_budget_growth():
    invested = _fired_month(ta=0.15, responsiveness=1.5)
    assert invested < 84  # fires on readiness, before the fallback
    assert _fired_month(ta=0.0, responsiveness=0.0) > invested


def test_ended_technical_assistance_and_staff_cuts_lower_readiness():
    cfg = _world(horizon_months=36)
    cfg["country"]["funders"][0]["technical_assistance"] = 0.5
    cfg["country"]["providers"][1]["learning"] = True
    cfg["country"]["system"]["min_productivity"] = 0.5
    cfg["country"]["system"]["staff_turnover"] = 0.1
    cfg["country"]["system"]["adjustment_months"] = 36
    params = build_params(copy.deepcopy(cfg))
    sc = build_scenario({"name": "t", "national_share": {"default": 0.0},
                         "donor_funding": {"kind": "step", "month": 12, "before": 1.0, "after": 0.0}},
                        params.country)
    model = model_with_returnees(cfg, 0, scenario=sc)
    for _ in range(36):
        model.step()
    ready = [r["readiness"] for r in model.records]
    sops = [r["block_sops_referral"] for r in model.records]
    assert ready[11] > ready[0]  # TA builds capacity ...
    assert ready[35] < ready[11]  # ... and its end (turnover, no drive) loses it again
    assert sops[35] < sops[11]


def test_a_severe_need_is_not_taken_by_a_provider_that_only_refers():
    cfg = world([provider("prog", "external_implementer", "donor", slots=5,
                          areas={"economic": "referral"})])
    cfg["country"]["needs"]["specialist_severity"] = 0.85
    model = model_with_returnees(cfg, 2)
    model.population.ep_severity[0, 0] = 0.9  # >= specialist_severity 0.85: needs direct help
    model.population.ep_severity[1, 0] = 0.5
    model.step()
    assert list(model.population.ep[:2, 0]) == [2, 3]  # WAITING, IN_SERVICE


def test_severity_lengthens_assistance():
    cfg = world([provider("prog", "external_implementer", "donor", slots=5, assist_months=[6, 12])])
    cfg["country"]["needs"]["severity_duration_effect"] = 1.0  # duration set by severity alone
    model = model_with_returnees(cfg, 3)
    model.population.ep_severity[:3, 0] = [0.3, 0.65, 1.0]  # rescaled 0, 0.5, 1
    model.step()
    assert list(model.population.ep_duration[:3, 0]) == [6, 9, 12]


def _open_world(open_flag: bool, trust: float = 1.0):
    # The programme (eligible: avrr) offers only training; the national agency offers economic.
    cfg = _world()
    cfg["country"]["providers"][0]["areas"] = {"training": "direct"}
    cfg["country"]["providers"][1]["open_to_programme_returnees"] = open_flag
    cfg["country"]["funders"][1]["monthly_budget"] = 1e6
    cfg["country"]["system"]["initial"]["mainstreaming"] = 1.0
    model = model_with_returnees(cfg, 4)
    model.population.trust_gov[:4] = trust
    model.step()
    return model


def test_national_services_open_to_programme_returnees_serve_them():
    assert (_open_world(False).population.ep[:4, 0] == 2).all()  # left waiting on the programme
    assert (_open_world(True).population.ep_provider[:4, 0] == 1).all()  # served nationally
    assert (_open_world(True, trust=0.0).population.ep[:4, 0] == 2).all()  # unless distrusted


def test_political_will_follows_visible_results_and_fiscal_stress():
    def will(shocks=(), n=0, donor=1000.0, **system):
        cfg = _world(donor={"monthly_budget": donor}, horizon_months=24)
        cfg["country"]["system"].update(adjustment_months=6, **system)
        params = build_params(copy.deepcopy(cfg))
        sc = build_scenario({"name": "t", "national_share": {"default": 0.0}, "shocks": list(shocks)},
                            params.country)
        model = model_with_returnees(cfg, n, scenario=sc)
        for _ in range(24):
            model.step()
        return model.records[-1]["block_political_will"]

    base = will(will_results=0.0, will_fiscal=0.0)
    assert base == pytest.approx(0.5)  # no results, no stress: will stays where it was
    cut = [{"kind": "funding_cut", "funder": "treasury", "size": 0.5, "start": 0}]
    assert will(cut, will_results=0.0, will_fiscal=0.5) == pytest.approx(0.25, abs=0.02)
    # Without the programme the national agency carries all cases and spend: ownership rises
    # from 0.5 toward 1, and will follows it up.
    assert will(n=5, donor=0.0, will_results=1.0, will_fiscal=0.0) > base + 0.03
