"""The model's invariants on a finished run (shared by the core and the fuzz tests)."""

from __future__ import annotations

import numpy as np

from sim.domain import Episode, Status


def check_invariants(res) -> None:
    """Assert people are never lost or double-counted, money never negative, capacity never
    exceeded, coverage a share and the caseload counters consistent (a `sim.RunResult`)."""
    ts, pop, model = res.timeseries, res.model.population, res.model
    k = model.scale
    # People are never lost or double-counted (those who arrived during the spin-up included).
    spun_up = int((pop.view("arrival") < model.spinup).sum()) * k
    assert (spun_up + ts["arrivals"].cumsum() == ts["active"] + ts["closed"] + ts["remigrated"]).all()
    assert pop.n * k == spun_up + ts["arrivals"].sum()
    assert res.outcomes["arrivals"] == ts["arrivals"].sum()
    # Money never negative; spend within allocation.
    for col in ("donor_spend", "national_spend", "donor_allocation", "national_allocation"):
        assert (ts[col] >= 0).all()
    assert (ts["national_spend"] <= ts["national_allocation"] + 1e-6).all()
    assert (ts["donor_spend"] <= ts["donor_allocation"] + 1e-6).all()
    # Capacity is never exceeded.
    for kind in ("external_implementer", "national_agency", "local_office", "sector_service", "local_ngo"):
        assert (ts[f"caseload_{kind}"] <= ts[f"capacity_{kind}"]).all(), kind
    # Coverage is a share.
    cov = ts["coverage"].dropna()
    assert ((cov >= 0) & (cov <= 1)).all()
    for key, value in res.outcomes.items():
        if key.startswith("coverage") and not np.isnan(value):
            assert 0.0 <= value <= 1.0, key
    # The caseload counters agree with a recount from the arrays.
    assert np.array_equal(model._caseloads(), model.count_caseloads())
    # An episode is in service exactly when it has a provider (active returnees).
    active = pop.view("status") == Status.ACTIVE
    in_service = pop.view("ep")[active] == Episode.IN_SERVICE
    assert np.array_equal(in_service, pop.view("ep_provider")[active] >= 0)
