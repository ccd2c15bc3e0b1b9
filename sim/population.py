"""Returnee state as columnar numpy arrays, and the arrival process.

One row per returnee agent (an agent stands for `scale` persons). Per-area state (need
episodes) lives in (n, len(AREAS)) arrays. Rules elsewhere are written once, vectorised
over rows; `sim.agents.ReturneeView` gives a Mesa `Agent` view of any row.
"""

from __future__ import annotations

import numpy as np

from sim.domain import AREAS, DIMENSIONS, MODALITIES, PROFILES, Episode, Status
from sim.params import Country

N_AREAS = len(AREAS)
N_DIMS = len(DIMENSIONS)

# name -> (dtype, per-area?, fill value)
_COLUMNS = {
    "arrival": (np.int32, False, -1),
    "region": (np.int8, False, 0),
    "modality": (np.int8, False, 0),
    "profile": (np.int8, False, 0),
    "status": (np.int8, False, int(Status.ACTIVE)),
    "exit_month": (np.int32, False, -1),
    "registered": (np.bool_, False, False),
    "trust_gov": (np.float32, False, 0.0),
    "trust_ext": (np.float32, False, 0.0),
    "u_reception": (np.float32, False, 0.0),
    "u_case": (np.float32, False, 0.0),
    "u_follow": (np.float32, False, 0.0),
    "follow_until": (np.int32, False, -1),
    "follow_national": (np.bool_, False, False),
    "score_12m": (np.float32, False, np.nan),
    "ever_external": (np.bool_, False, False),
    "ep": (np.int8, True, int(Episode.NONE)),
    "ep_u": (np.float32, True, 0.0),
    "ep_u_duration": (np.float32, True, 0.0),
    "ep_severity": (np.float32, True, 0.0),
    "ep_provider": (np.int16, True, -1),
    "ep_first_served": (np.int32, True, -1),
    "ep_wait_since": (np.int32, True, -1),
    "ep_months": (np.int16, True, 0),
    "ep_duration": (np.int16, True, 0),
    "ep_interrupted": (np.int32, True, -1),
    "ep_transfer": (np.bool_, True, False),
    "ep_referral": (np.bool_, True, False),
    "ep_external": (np.bool_, True, False),  # last served by an external programme
}
#: Columns whose fill value is not zero: `Population.add` writes it into new rows.
_FILLED = {name: fill for name, (_, _, fill) in _COLUMNS.items() if fill != 0}  # NaN != 0


class Population:
    """Columnar store of all returnees that have arrived so far.

    Columns are allocated for `capacity` rows ahead of the arrivals, but only rows below
    `n` hold returnees: columns whose fill value is zero are allocated zeroed (the operating
    system hands out zero pages only when first written), the others uninitialised, and
    `add` writes the fill value into the new rows of every column it is not given. So
    nothing must read rows >= n (use `view`).
    """

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self._capacity = 0
        self._grow(max(capacity, 16))

    def _grow(self, capacity: int) -> None:
        for name, (dtype, per_area, fill) in _COLUMNS.items():
            shape = (capacity, N_AREAS) if per_area else (capacity,)
            new = np.zeros(shape, dtype=dtype) if name not in _FILLED else np.empty(shape, dtype=dtype)
            if self._capacity:
                new[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, new)
        shape = (capacity, N_DIMS)
        new_score = np.zeros(shape, dtype=np.float32)
        if self._capacity:
            new_score[: self.n] = self.score[: self.n]
        self.score = new_score
        self._capacity = capacity

    def __deepcopy__(self, memo: dict) -> Population:
        """A copy with the same rows and capacity that copies only the filled rows (a
        spun-up model is copied for each scenario while most of its capacity is unused)."""
        twin = Population(self._capacity)
        for name in (*_COLUMNS, "score"):
            getattr(twin, name)[: self.n] = getattr(self, name)[: self.n]
        twin.n = self.n
        memo[id(self)] = twin
        return twin

    def view(self, name: str) -> np.ndarray:
        """The filled rows of column `name`."""
        return getattr(self, name)[: self.n]

    def add(self, fields: dict[str, np.ndarray]) -> np.ndarray:
        """Append rows; `fields` maps column names to arrays of equal length.

        Columns not in `fields` get their fill value in the new rows.

        Returns:
            The indices of the new rows.
        """
        k = len(fields["arrival"])
        if self.n + k > self._capacity:
            self._grow(max(2 * self._capacity, self.n + k))
        new = slice(self.n, self.n + k)
        for name, values in fields.items():
            getattr(self, name)[new] = values
        for name, fill in _FILLED.items():
            if name not in fields:
                getattr(self, name)[new] = fill
        self.n += k
        return np.arange(new.start, new.stop)


def draw_arrivals(country: Country, month: int, n: int, rng_arrivals: np.random.Generator,
                  rng_needs: np.random.Generator, modality_mix: np.ndarray | None = None,
                  region_mix: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Draw the attributes of `n` arriving returnee agents.

    Who arrives (region, modality, profile) comes from the arrivals stream; what they need
    and how they behave (needs, severity, trust, scores, routing draws) from the needs
    stream. The number of draws per agent is fixed, so streams stay aligned across
    scenarios.

    Args:
        country: the country profile.
        month: arrival month.
        n: number of agents.
        rng_arrivals: the arrivals stream.
        rng_needs: the needs stream.
        modality_mix: optional modality shares overriding the profile's (return surges,
            arrivals data).
        region_mix: optional region shares overriding the profile's (arrivals data).

    Returns:
        Column name -> array of length n, ready for `Population.add`.
    """
    arr = country.arrivals
    region_p = (np.asarray(region_mix, dtype=float) if region_mix is not None
                else np.array([r.share for r in country.regions]))
    mod_p = (np.asarray(modality_mix, dtype=float) if modality_mix is not None
             else np.array([arr.modality_shares[m] for m in MODALITIES]))
    vuln_p = np.array([arr.vulnerable_share[m] for m in MODALITIES])
    region = rng_arrivals.choice(len(region_p), size=n, p=region_p / region_p.sum())
    modality = rng_arrivals.choice(len(MODALITIES), size=n, p=mod_p / mod_p.sum())
    profile = (rng_arrivals.random(n) < vuln_p[modality]).astype(np.int8)

    beh = country.returnees
    need_p = np.array([[getattr(country.needs, p)[a] for a in AREAS] for p in PROFILES])
    u_need = rng_needs.random((n, N_AREAS))
    smin = country.needs.severity_min
    severity = smin + (1 - smin) * rng_needs.random((n, N_AREAS))
    trust_gov = _beta(rng_needs, beh.trust_gov, beh.trust_concentration, n)
    trust_ext = _beta(rng_needs, beh.trust_ext, beh.trust_concentration, n)
    base = beh.initial_score - beh.vulnerable_score_penalty * profile
    score = np.clip(base[:, None] + beh.initial_score_sd * rng_needs.standard_normal((n, N_DIMS)), 0.0, 1.0)
    u = rng_needs.random((n, 3))
    ep_u = rng_needs.random((n, N_AREAS))
    ep_u_duration = rng_needs.random((n, N_AREAS))

    has_need = u_need < need_p[profile]
    return {
        "arrival": np.full(n, month, dtype=np.int32),
        "region": region.astype(np.int8),
        "modality": modality.astype(np.int8),
        "profile": profile,
        "trust_gov": trust_gov,
        "trust_ext": trust_ext,
        "score": score.astype(np.float32),
        "u_reception": u[:, 0],
        "u_case": u[:, 1],
        "u_follow": u[:, 2],
        "ep": np.where(has_need, Episode.LATENT, Episode.NONE).astype(np.int8),
        "ep_severity": np.where(has_need, severity, 0.0).astype(np.float32),
        "ep_u": ep_u,
        "ep_u_duration": ep_u_duration,
    }


def _beta(rng: np.random.Generator, mean: float, concentration: float, n: int) -> np.ndarray:
    mean = min(max(mean, 1e-3), 1 - 1e-3)
    return rng.beta(mean * concentration, (1 - mean) * concentration, size=n).astype(np.float32)
