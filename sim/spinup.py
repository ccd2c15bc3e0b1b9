"""Reuse of the spin-up shared by runs that differ only in their scenario.

Every run first steps `model.spinup_months` months under the neutral scenario. With the
same parameters and seed that spin-up is identical whatever the scenario (common random
numbers), so a study that compares scenarios would repeat it once per scenario. A
`SpinupCache` keeps the last spun-up model of a process and hands out copies of it
(`HandoverModel.fork`); each copy runs exactly as a fresh model would.
"""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

from sim.model import HandoverModel
from sim.params import RunParams

#: Spun-up models larger than this are not kept (a copy is held next to the running model).
MAX_CACHED_BYTES = 512 * 1024**2


def params_key(params: RunParams, seed: int) -> str:
    """A key equal for equal parameters and seed (SHA-256 of their pickle)."""
    return hashlib.sha256(pickle.dumps((params, int(seed)))).hexdigest()


def model_bytes(model: HandoverModel) -> int:
    """Bytes held by the model's population arrays (the bulk of a spun-up model)."""
    return sum(v.nbytes for v in vars(model.population).values() if hasattr(v, "nbytes"))


class SpinupCache:
    """The last spun-up model of this process, keyed by parameters and seed.

    Args:
        max_bytes: models whose population arrays exceed this are not kept.
    """

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES):
        self.max_bytes = max_bytes
        self._key: str | None = None
        self._model: HandoverModel | None = None
        self.hits = 0
        self.misses = 0

    def model(self, params: RunParams, scenario: Any, seed: int) -> HandoverModel:
        """A model spun up with `params` and `seed`, at month 0, that will run `scenario`."""
        key = params_key(params, seed)
        if key == self._key and self._model is not None:
            self.hits += 1
            return self._model.fork(scenario)
        self.misses += 1
        if self._model is not None:
            self._model.release()  # see HandoverModel.release
        self._key, self._model = None, None
        if params.model.spinup_months == 0:
            return HandoverModel(params, scenario, seed)  # nothing to share
        fresh = HandoverModel(params, None, seed)
        fresh.spin_up()
        twin = fresh.fork(scenario)
        if model_bytes(fresh) > self.max_bytes:
            fresh.release()
        else:
            self._key, self._model = key, fresh
        return twin
