"""Named random streams derived from one seed.

Each stream is spawned from `SeedSequence(seed)` by a fixed key, so a stream's draws do not
depend on how many numbers other streams drew. Scenarios run with the same seed therefore
see the same arrivals (common random numbers), whatever else they change.
"""

from __future__ import annotations

import zlib

import numpy as np

#: The streams of a run. Adding a new name never changes the draws of existing ones.
STREAMS = ("arrivals", "needs", "behaviour", "outcomes", "funding", "shocks")


class Streams:
    """One `numpy.random.Generator` per named stream, all derived from `seed`."""

    def __init__(self, seed: int):
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed: must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self._gens = {name: self._make(name) for name in STREAMS}

    def _make(self, name: str) -> np.random.Generator:
        # Key each stream by a stable hash of its name, not by its position in STREAMS.
        key = zlib.crc32(name.encode())
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, key])))

    def __getitem__(self, name: str) -> np.random.Generator:
        if name not in self._gens:
            raise KeyError(f"unknown random stream '{name}'; allowed: {', '.join(STREAMS)}")
        return self._gens[name]

    def __getattr__(self, name: str) -> np.random.Generator:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._gens[name]
        except KeyError:
            raise AttributeError(name) from None
