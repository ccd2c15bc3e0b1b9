"""`run(params, scenario, seed) -> RunResult`: the pure entry point of the simulator."""

from __future__ import annotations

from typing import Any

from sim.metrics import outcomes_and_series
from sim.model import HandoverModel
from sim.params import RunParams
from sim.results import RunResult


def run(params: RunParams, scenario: Any = None, seed: int = 0) -> RunResult:
    """Spin up, simulate `params.model.horizon_months` months and compute the outcomes.

    Args:
        params: validated parameters (`sim.build_params`).
        scenario: a scenario object (`scenarios.build_scenario`); None = nothing handed over.
        seed: the run's seed.

    Returns:
        RunResult with outcomes, monthly time series and the finished model.
    """
    model = HandoverModel(params, scenario, seed)
    for _ in range(params.model.spinup_months + params.model.horizon_months):
        model.step()
    outcomes, series = outcomes_and_series(model)
    name = getattr(scenario, "name", "none")
    return RunResult(outcomes=outcomes, timeseries=series, seed=seed, scenario=name, model=model)
