"""One simulation job: a plain run configuration + a seed in, outcomes out.

A job spec is `{"config": {"model", "country", "scenario"}, "seed": int, ...tags}`; tags
(scenario name, replication, parameter values) are ignored here. These functions are
top-level and picklable, so every executor (serial, processes, Dask) can call them; each
run seeds itself from its spec, never from process state.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scenarios import build_scenario
from sim import build_params, run
from sim.results import RunResult


def simulate(config: dict[str, Any], seed: int) -> RunResult:
    """Validate a run configuration, build its scenario and run it.

    Raises:
        sim.ParameterError: (or its subclass ScenarioError) on invalid input.
    """
    params = build_params(config)
    scenario_spec = config.get("scenario") or {}
    source = f"scenario '{scenario_spec.get('name', '?')}'"
    scenario = build_scenario(scenario_spec, params.country, source=source)
    return run(params, scenario, int(seed))


def run_job_with_series(spec: dict[str, Any]) -> tuple[dict[str, float], pd.DataFrame]:
    """Run a job; return its scalar outcomes and its monthly time series."""
    result = simulate(spec["config"], spec["seed"])
    return dict(result.outcomes), result.timeseries


def run_job(spec: dict[str, Any]) -> dict[str, float]:
    """Run a job; return its flat scalar outcomes (docs/metrics.md)."""
    return run_job_with_series(spec)[0]
