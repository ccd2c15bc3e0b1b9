"""Tiny hand-built worlds for exact tests of the simulator core."""

from __future__ import annotations

import copy

import numpy as np

from sim.domain import AREAS, BLOCKS, Episode
from sim.model import HandoverModel
from sim.params import build_params
from sim.population import draw_arrivals

ONLY_ECONOMIC = {a: (1.0 if a == "economic" else 0.0) for a in AREAS}


def provider(name: str, kind: str, funder: str, slots: int, **extra) -> dict:
    """A provider with `slots` concurrent cases (1 staff x slots cases, productivity 1)."""
    spec = {
        "name": name, "kind": kind, "funder": funder,
        "areas": {"economic": "direct"}, "regions": ["only"],
        "modalities": ["avrr_europe", "humanitarian_transit", "forced", "spontaneous"],
        "profiles": ["standard", "vulnerable"],
        "staff_cost": 1000.0, "cases_per_staff": slots, "initial_staff": 1.0,
        "hiring_lag_months": 1.0, "quality": 1.0, "assist_months": [6, 6], "learning": False,
    }
    spec.update(extra)
    return spec


def world(providers: list[dict], funders: list[dict] | None = None, **model) -> dict:
    """A run config: one region, no random arrivals, every returnee needs economic help."""
    funders = funders or [
        {"name": "donor", "kind": "donor", "monthly_budget": 1000.0, "cycle_months": 100,
         "renewal_prob": 1.0, "first_cycle_end": 100},
        {"name": "treasury", "kind": "treasury", "monthly_budget": 0.0, "shares": {}},
    ]
    settings = {"horizon_months": 12, "spinup_months": 0, "handover_start": 0, "warmup_months": 0, "scale": 1,
                "timely_months": 3, "gap_tolerance_months": 2, "gap_delta": 0.2,
                "monitoring_months": 48}
    settings.update(model)
    return {
        "model": settings,
        "country": {
            "name": "tiny", "description": "hand-built",
            "arrivals": {"monthly_mean": 0.0,
                         "modality_shares": {"avrr_europe": 1.0, "humanitarian_transit": 0.0,
                                             "forced": 0.0, "spontaneous": 0.0},
                         "vulnerable_share": {"avrr_europe": 0.0, "humanitarian_transit": 0.0,
                                              "forced": 0.0, "spontaneous": 0.0}},
            "regions": [{"name": "only", "share": 1.0, "office": 1.0, "labour": 0.5}],
            # Severity neither changes durations nor asks for specialists unless a test says so.
            "needs": {"standard": dict(ONLY_ECONOMIC), "vulnerable": dict(ONLY_ECONOMIC),
                      "severity_duration_effect": 0.0, "specialist_severity": 1.0},
            "returnees": {
                "trust_gov": 0.5, "trust_ext": 0.5, "trust_concentration": 8,
                "help_seeking": 1.0, "unregistered_factor": 1.0, "patience_months": 12,
                "initial_score": 0.3, "vulnerable_score_penalty": 0.0, "service_gain": 0.05,
                "referral_factor": 0.6, "unmet_decay": 0.0, "context_pull": 0.0,
                "follow_up_months": 0, "follow_up_effect": 0.0, "remigration_base": 0.0,
                "remigration_unmet": 0.0, "remigration_score": 0.0, "trust_learning": 0.0,
                "trust_reversion": 0.0},
            "providers": providers,
            "funders": funders,
            "system": {"initial": {b: 0.5 for b in BLOCKS}, "adjustment_months": 36,
                       "learning_months": 24, "min_productivity": 1.0,
                       "ta_per_learning_month": 1000.0, "referral_success_external": 1.0},
        },
    }


def model_with_returnees(config: dict, n: int, scenario=None, seed: int = 0) -> HandoverModel:
    """A model whose only returnees are `n` arrivals in month 0, certain to seek help."""
    params = build_params(copy.deepcopy(config))
    model = HandoverModel(params, scenario, seed)
    rng = np.random.default_rng(seed)
    rows = model.population.add(draw_arrivals(params.country, 0, n, rng, rng))
    model.population.trust_gov[rows] = 1.0
    model.population.trust_ext[rows] = 1.0
    model.population.registered[rows] = True
    return model


def states(model: HandoverModel, area: str = "economic") -> list[Episode]:
    """Episode state of every returnee in `area`."""
    a = AREAS.index(area)
    return [Episode(int(s)) for s in model.population.view("ep")[:, a]]
