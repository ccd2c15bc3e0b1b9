"""The national reintegration system: 11 building blocks + ownership.

Each block is in [0, 1] and moves slowly toward a target set by political will,
ownership ("let them do it": national caseload and spend shares) and technical
assistance. The blocks set national referral success, registration reach and readiness.
Every coefficient is a `SystemParams` field (units, ranges and sources in `sim.params`).
"""

from __future__ import annotations

import numpy as np

from sim.domain import BLOCKS
from sim.params import SystemParams

_IDX = {b: i for i, b in enumerate(BLOCKS)}
#: Blocks built up by investment; political will is exogenous, ownership and budget are
#: measured from the handover itself.
_BUILT = [b for b in BLOCKS if b not in ("political_will", "ownership", "budget")]
#: Blocks that readiness triggers look at (with national productivity).
READINESS_BLOCKS = ("public_services", "sops_referral", "data_management", "coordination")


def _clip(x: float, low: float, high: float) -> float:
    """np.clip of one number, exactly (NaN kept, a -0.0 below a 0.0 floor becomes 0.0),
    without numpy's per-call overhead (called hundreds of times a run)."""
    if x != x:
        return float(x)
    x = x if x > low else low
    return float(x if x < high else high)


class NationalSystem:
    """State and slow dynamics of the national system."""

    def __init__(self, params: SystemParams, initial_ta_usd: float = 0.0):
        self.params = params
        self.initial = np.array([params.initial[b] for b in BLOCKS], dtype=float)
        self.blocks = self.initial.copy()
        #: The drive that holds every block at its initial value (the system as it stands).
        self.initial_drive = self.drive(initial_ta_usd)
        #: Political will without temporary shocks; it follows results and fiscal stress.
        self.will_base = float(self["political_will"])

    def __getitem__(self, block: str) -> float:
        return float(self.blocks[_IDX[block]])

    def __setitem__(self, block: str, value: float) -> None:
        self.blocks[_IDX[block]] = _clip(value, 0.0, 1.0)

    def as_dict(self) -> dict[str, float]:
        """Current value of every block."""
        return {b: float(v) for b, v in zip(BLOCKS, self.blocks)}

    def relative(self, block: str) -> float:
        """The block's value relative to its initial value, kept within
        [relative_min, relative_max]."""
        i = _IDX[block]
        p = self.params
        return _clip(self.blocks[i] / max(self.initial[i], 1e-9), p.relative_min, p.relative_max)

    @property
    def capacity_factor(self) -> float:
        """Multiplier on public providers' capacity: public services relative to the start."""
        return self.relative("public_services")

    @property
    def trust_factor(self) -> float:
        """Multiplier on the trust in government that opinions revert to: ownership relative
        to the start (a government that owns and delivers the job earns trust)."""
        return self.relative("ownership")

    @property
    def referral_success(self) -> float:
        """Monthly probability that a national case manager completes a referral."""
        p = self.params
        # SOPs need the sector ministries on board to receive the referral (whole of government).
        working = min(1.0, self["sops_referral"] * self.relative("whole_of_government"))
        return p.referral_success_floor + p.referral_success_gain * working

    def reception_reach(self, office: np.ndarray) -> np.ndarray:
        """Probability national actors receive and register an arrival, per region."""
        p = self.params
        # Decentralisation extends the local offices' presence.
        presence = np.minimum(1.0, office * self.relative("decentralisation"))
        return p.reception_reach_floor + p.reception_reach_gain * self["data_management"] * presence

    @property
    def structure(self) -> float:
        """How far routine casework becomes institutional learning: SOPs and data systems."""
        return 0.5 * (self["sops_referral"] + self["data_management"])

    def readiness(self, productivity: float, absorption: float) -> float:
        """Measured capacity to take over (0-1): key blocks, providers' productivity and
        absorption (national capacity relative to the whole caseload in service)."""
        blocks = np.mean([self[b] for b in READINESS_BLOCKS])
        wb, wa = self.params.readiness_block_weight, self.params.readiness_absorption_weight
        return float(wb * blocks + wa * absorption + (1 - wb - wa) * productivity)

    def drive(self, ta_usd: float) -> float:
        """What builds the system: political will x (ownership and technical assistance)."""
        p = self.params
        ta = min(1.0, ta_usd / p.ta_full_intensity_usd)
        w_own = p.drive_ownership_weight
        return self["political_will"] * (w_own * self["ownership"] + (1 - w_own) * ta)

    def update_will(self, fiscal_stress: float) -> None:
        """Political will (without shocks) moves toward a target that rises with visible
        results (ownership gained since the start) and falls with fiscal stress (0-1)."""
        p = self.params
        target = (self.initial[_IDX["political_will"]]
                  + p.will_results * (self["ownership"] - self.initial[_IDX["ownership"]])
                  - p.will_fiscal * fiscal_stress)
        target = _clip(target, 0.0, 1.0)
        self.will_base += (target - self.will_base) / p.adjustment_months

    def update(self, national_case_share: float, national_spend_share: float,
               ta_usd: float) -> None:
        """One month of change (step 9).

        Built blocks move toward a target that equals their initial value at the initial
        drive, rises toward 1 with more drive and falls toward 0 with less (technical
        assistance ended, will or ownership lost).
        """
        p = self.params
        # A mandated lead entity steers the building of the system.
        rate = self.relative("lead_entity") / p.adjustment_months
        w_case = p.ownership_case_weight
        target_own = w_case * national_case_share + (1 - w_case) * national_spend_share
        self["ownership"] = self["ownership"] + rate * (target_own - self["ownership"])
        self["budget"] = self["budget"] + rate * (national_spend_share - self["budget"])
        drive, d0 = self.drive(ta_usd), max(self.initial_drive, 1e-9)
        up = drive >= d0
        gain = (drive - d0) / max(1 - d0, 1e-9) if up else drive / d0
        for b in _BUILT:
            i = _IDX[b]
            b0 = self.initial[i]
            target = b0 + (1 - b0) * gain if up else b0 * gain
            self.blocks[i] += rate * (target - self.blocks[i])
