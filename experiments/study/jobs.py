"""One simulation job: a plain run configuration + a seed in, outcomes out.

A job spec is `{"config": {"model", "country", "scenario"}, "seed": int, ...tags}`; tags
(scenario name, replication, parameter values) are ignored here. These functions are
top-level and picklable, so every executor (serial, processes, Dask) can call them; each
run seeds itself from its spec, never from process state (a process may start a run from
the spin-up of its previous run with the same parameters and seed: the results are the
same as from a fresh model).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scenarios import build_scenario
from sim import build_params, run
from sim.results import RunResult
from sim.spinup import SpinupCache
from experiments.study.pages import use_small_pages
from experiments.study.store import canonical_json


#: This process's spun-up model, reused by study jobs that differ only in their scenario.
SPINUP_CACHE = SpinupCache()

use_small_pages()  # every process that runs jobs (see experiments/study/pages.py)


def simulate(config: dict[str, Any], seed: int, *, reuse_spinup: bool = False) -> RunResult:
    """Validate a run configuration, build its scenario and run it.

    Args:
        config: run configuration (`model`, `country`, `scenario`).
        seed: the run's seed.
        reuse_spinup: start from this process's spun-up model when the previous run had
            the same parameters and seed (identical results; see `sim.spinup`).

    Raises:
        sim.ParameterError: (or its subclass ScenarioError) on invalid input.
    """
    params = build_params(config)
    scenario_spec = config.get("scenario") or {}
    source = f"scenario '{scenario_spec.get('name', '?')}'"
    scenario = build_scenario(scenario_spec, params.country, source=source)
    return run(params, scenario, int(seed), cache=SPINUP_CACHE if reuse_spinup else None)


def spinup_group(spec: dict[str, Any]) -> str:
    """Jobs with equal groups share their spin-up: the same configuration but for the
    scenario, and the same seed. The study runner runs them one after another."""
    config = {k: v for k, v in spec["config"].items() if k != "scenario"}
    return canonical_json({"config": config, "seed": spec.get("seed")})


def run_job_with_series(spec: dict[str, Any]) -> tuple[dict[str, float], pd.DataFrame]:
    """Run a job; return its scalar outcomes and its monthly time series."""
    result = simulate(spec["config"], spec["seed"], reuse_spinup=True)
    result.model.release()  # free its arrays now, not at the next full garbage collection
    return dict(result.outcomes), result.timeseries


def run_job(spec: dict[str, Any]) -> dict[str, float]:
    """Run a job; return its flat scalar outcomes (docs/metrics.md)."""
    return run_job_with_series(spec)[0]
