"""RunResult: what one run returns (time series, scalar outcomes, metadata). Writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class RunResult:
    """The result of `sim.run`.

    Attributes:
        outcomes: flat scalar outcomes (see docs/metrics.md).
        timeseries: one row per month.
        seed: the run's seed.
        scenario: the scenario's name.
        model: the finished model, for inspection (arrays, agents); not serialised.
    """

    outcomes: dict[str, float]
    timeseries: pd.DataFrame
    seed: int
    scenario: str
    model: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["model"] = None  # models stay in the process that ran them
        return state
