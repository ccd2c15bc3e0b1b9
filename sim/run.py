"""`run(params, scenario, seed) -> RunResult`: the pure entry point of the simulator."""

from __future__ import annotations

from typing import Any

from sim.metrics import outcomes_and_series
from sim.model import HandoverModel
from sim.params import RunParams
from sim.results import RunResult
from sim.spinup import SpinupCache


def run(params: RunParams, scenario: Any = None, seed: int = 0,
        cache: SpinupCache | None = None) -> RunResult:
    """Spin up, simulate `params.model.horizon_months` months and compute the outcomes.

    Args:
        params: validated parameters (`sim.build_params`).
        scenario: a scenario object (`scenarios.build_scenario`); None = nothing handed over.
        seed: the run's seed.
        cache: reuse the spin-up of an earlier run with the same parameters and seed (the
            results are identical; studies use it when they run every scenario).

    Returns:
        RunResult with outcomes, monthly time series and the finished model.
    """
    if cache is None:
        model = HandoverModel(params, scenario, seed)
        model.spin_up()
    else:
        model = cache.model(params, scenario, seed)
    while model.month < params.model.horizon_months:
        model.step()
    outcomes, series = outcomes_and_series(model)
    name = getattr(scenario, "name", "none")
    return RunResult(outcomes=outcomes, timeseries=series, seed=seed, scenario=name, model=model)
