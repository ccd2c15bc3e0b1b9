"""Job function of validate and calibrate: one run in, the targets' statistics out."""

from __future__ import annotations

from typing import Any

from experiments.calibrate.statistics import compute
from experiments.study.jobs import simulate

#: Key of a job's run configuration that carries the statistics to compute.
STATISTICS_KEY = "statistics"


def with_statistics(config: dict[str, Any], statistics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A run configuration that also names the statistics its job returns."""
    return {**config, STATISTICS_KEY: statistics}


def target_job(spec: dict[str, Any]) -> dict[str, float]:
    """Run one job and return {target name: statistic value} (top-level, picklable).

    Args:
        spec: {"config": run config + `statistics` (target name -> statistic), "seed", ...}.
    """
    config = spec["config"]
    result = simulate(config, spec["seed"])
    values = {name: compute(stat, result) for name, stat in config[STATISTICS_KEY].items()}
    result.model.release()  # free its arrays now (see HandoverModel.release)
    return values
