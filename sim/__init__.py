"""The handover simulator's model: pure simulation code (no files, no Hydra, no plotting).

Use `sim.run(params, scenario, seed)` to get a `RunResult`.
"""

from sim.params import ParameterError, RunParams, build_params
from sim.run import run

__all__ = ["ParameterError", "RunParams", "build_params", "run"]
