"""Mesa agents: service providers, funders (donors, treasury), and returnee views.

Providers and funders are few (tens) and are ordinary Mesa agents with verb-named
methods. Returnees are many: their state lives in `sim.population.Population` arrays and
`ReturneeView` exposes one row as a Mesa `Agent` for inspection.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.domain import AREAS, DIMENSIONS, MODALITIES, PROFILES, Episode, Status
from sim.params import FunderSpec, ProviderSpec

#: Provider kinds whose capacity follows the public-services building block.
PUBLIC_KINDS = ("national_agency", "local_office", "sector_service")

if TYPE_CHECKING:
    from sim.model import HandoverModel


class Provider(mesa.Agent):
    """A service provider with funded staff, a case capacity and per-area services.

    Capacity (concurrent need episodes, in agents) = staff x cases_per_staff x
    productivity / scale. Staff follow the budget: hiring closes the gap by
    1/hiring_lag each month, cuts are immediate (unpaid staff leave). National providers
    with `learning` gain productivity and quality with caseload and technical assistance.
    """

    def __init__(self, model: HandoverModel, spec: ProviderSpec, index: int):
        super().__init__(model)
        self.spec = spec
        self.index = index
        self.external = spec.external
        regions = [r.name for r in model.params.country.regions]
        self.offers = np.array([a in spec.areas for a in AREAS])
        self.by_referral = np.array([spec.areas.get(a) == "referral" for a in AREAS])
        q = spec.quality
        self.nominal_quality = np.array([(q.get(a, 0.0) if isinstance(q, dict) else q) for a in AREAS])
        self.reaches = np.array([r in spec.regions for r in regions])
        self.accepts_modality = np.array([m in spec.modalities for m in MODALITIES])
        self.accepts_profile = np.array([p in spec.profiles for p in PROFILES])
        # All eligibility rules at once, flat over (area, region, modality, profile) in C
        # order (`kernels.match_terms` computes the index of a request's cell).
        self.serves_cell = (self.offers[:, None, None, None] & self.reaches[None, :, None, None]
                            & self.accepts_modality[None, None, :, None]
                            & self.accepts_profile[None, None, None, :]).ravel()
        self.staff = float(spec.initial_staff)
        self.budget = 0.0
        self.spend = 0.0
        self.experience = 0.0  # months of full caseload (plus TA equivalents)
        self.productivity = 1.0 if not spec.learning else model.params.country.system.min_productivity
        self.capacity = 0  # concurrent episodes, in agents
        self.caseload = 0  # episodes in service, in agents
        self.closed = False  # closed by a shock: no budget whatever the funder says

    @property
    def funded(self) -> bool:
        """True while the provider has a budget this month."""
        return self.budget > 0 and not self.closed

    @property
    def quality(self) -> np.ndarray:
        """Effective service quality per area (0-1): learning providers grow into their
        nominal quality."""
        if not self.spec.learning:
            return self.nominal_quality
        floor = self.model.params.country.system.learner_quality_floor
        return self.nominal_quality * (floor + (1 - floor) * self.productivity)

    def adjust_capacity(self, budget: float) -> None:
        """Set this month's budget, staff, spend and capacity (step 3 of the model)."""
        self.budget = 0.0 if self.closed else max(0.0, budget)
        target = self.budget / self.spec.staff_cost
        if target > self.staff:
            self.staff += (target - self.staff) / self.spec.hiring_lag_months
        else:
            if self.staff > 0:  # trained staff leave with the cut, and their experience with them
                self.experience *= target / self.staff
            self.staff = target
        self.spend = self.staff * self.spec.staff_cost
        if self.spec.learning:
            half = self.model.params.country.system.learning_months
            self.productivity = self.model.params.country.system.min_productivity + (
                1 - self.model.params.country.system.min_productivity
            ) * (1 - 0.5 ** (self.experience / half))
        people = self.staff * self.spec.cases_per_staff * self.productivity
        if self.spec.kind in PUBLIC_KINDS:  # public providers grow with public services
            people *= self.model.system.capacity_factor
        self.capacity = int(math.floor(people / self.model.params.model.scale + 1e-9))

    def learn(self, ta_usd: float, structure: float) -> None:
        """Accumulate experience from this month's caseload and technical assistance.

        Args:
            ta_usd: technical assistance received this month (USD).
            structure: 0-1, how far routine casework turns into institutional learning
                (SOPs and data systems in place); TA counts in full.
        """
        if not self.spec.learning:
            return
        system = self.model.params.country.system
        nominal = max(self.staff * self.spec.cases_per_staff / self.model.params.model.scale, 1.0)
        ta = ta_usd / system.ta_per_learning_month
        self.experience = (self.experience * (1 - system.staff_turnover)
                           + structure * min(self.caseload / nominal, 1.0) + ta)


class Donor(mesa.Agent):
    """An external funder with project cycles, renewal chance and a scenario funding path."""

    def __init__(self, model: HandoverModel, spec: FunderSpec, renewal_draws: np.ndarray):
        super().__init__(model)
        self.spec = spec
        self.renewal_draws = renewal_draws  # pre-drawn so every scenario sees the same luck
        self.cycle = 0
        self.cycle_end = spec.first_cycle_end
        self.active = True
        self.budget = 0.0
        self.multiplier = 1.0  # shocks (funding cuts) set this

    def allocate(self, month: int, scenario_factor: float, always_renew: bool = False) -> float:
        """This month's budget in USD (step 2): planned budget x cycle x scenario x shocks.

        Where the profile gives a budget series (a data file), its value for the month
        replaces planned budget x cycle; after the series ends (and during the spin-up,
        months < 0), the cycles take over. With `always_renew` (the `continuation`
        counterfactual) every cycle is renewed; otherwise a cycle is renewed with
        probability `renewal_prob` (pre-drawn luck).
        """
        while month >= self.cycle_end and self.active:
            luck = self.renewal_draws[self.cycle % len(self.renewal_draws)] < self.spec.renewal_prob
            renewed = always_renew or luck
            self.cycle += 1
            self.cycle_end += self.spec.cycle_months
            self.active = bool(renewed)
        series = self.spec.budget_series
        if series is not None and 0 <= month < len(series):  # observed budgets replace the cycle
            planned = series[month]
        else:
            planned = self.spec.monthly_budget * self.active
        self.budget = planned * scenario_factor * self.multiplier
        return self.budget


class Treasury(mesa.Agent):
    """The national treasury: the reintegration allocation is an outcome of its budget process.

    own       = monthly_budget x political_will x (1 + responsiveness x ownership) x policy
    promised  = takeover x withdrawn x honoured x political_will / initial political will
    protected = 1 - competing_priorities x (1 - budget block)
    target    = fiscal_space x protected x multiplier x (own + promised)

    `withdrawn` is the donor money actually withdrawn this month because of the handover
    (active donors only); `takeover` is the scenario's pledge. The treasury can fall short of
    its pledge: it honours only `commitment_honoured` of it, scaled by political will, and
    everything is bounded by fiscal space and exposed to competing priorities unless a
    budget line protects it. The allocation moves toward the target with the disbursement lag.
    """

    def __init__(self, model: HandoverModel, spec: FunderSpec, initial_political_will: float):
        super().__init__(model)
        self.spec = spec
        self.initial_political_will = max(initial_political_will, 1e-9)
        self.allocation = None
        self.multiplier = 1.0  # shocks (competing priorities) set this
        self.committed = 0.0  # USD/month pledged this month (takeover x withdrawn)
        self.fulfilment = 1.0  # share of the pledge put into this month's target (1 if none)

    def allocate(self, political_will: float, ownership: float, budget_line: float,
                 withdrawn_usd: float, takeover: float, policy: float = 1.0) -> float:
        """This month's national allocation in USD (step 2).

        Args:
            political_will: the political-will block (0-1).
            ownership: the ownership block (0-1).
            budget_line: the budget block (0-1): how far a budget line protects the
                allocation from competing priorities.
            withdrawn_usd: donor money withdrawn this month because of the handover.
            takeover: pledged USD of national money per USD withdrawn (scenario lever).
            policy: the policy block relative to its start: a national strategy makes
                reintegration a budget priority.
        """
        s = self.spec
        own = s.monthly_budget * political_will * (1 + s.budget_responsiveness * ownership) * policy
        will = political_will / self.initial_political_will
        self.committed = takeover * withdrawn_usd
        afford = s.fiscal_space * (1 - s.competing_priorities * (1 - budget_line)) * self.multiplier
        # Share of the pledge that makes it into the budget (can exceed 1 with high will; capped).
        self.fulfilment = min(1.0, max(0.0, s.commitment_honoured * will * afford)) if self.committed else 1.0
        target = max(0.0, afford * (own + s.commitment_honoured * will * self.committed))
        if self.allocation is None:
            self.allocation = target
        else:
            self.allocation += (target - self.allocation) / s.disbursement_lag_months
        return self.allocation


class ReturneeView(mesa.Agent):
    """A Mesa `Agent` view of one returnee row, for inspection and per-agent extensions.

    Reads (and writes through) the model's arrays; holds no state of its own. A view is
    not registered with the model: inspecting returnees leaves `model.agents` unchanged.
    """

    def __init__(self, model: HandoverModel, row: int):
        # What mesa.Agent.__init__ sets, without `model.register_agent(self)`.
        self.model = model
        self.unique_id = None
        self.pos = None
        self.row = row

    def _get(self, name: str):
        return getattr(self.model.population, name)[self.row]

    @property
    def arrival_month(self) -> int:
        """Reported arrival month (negative for arrivals during the spin-up)."""
        return int(self._get("arrival")) - self.model.spinup

    @property
    def region(self) -> str:
        return self.model.params.country.regions[int(self._get("region"))].name

    @property
    def modality(self) -> str:
        return MODALITIES[int(self._get("modality"))]

    @property
    def profile(self) -> str:
        return PROFILES[int(self._get("profile"))]

    @property
    def status(self) -> Status:
        return Status(int(self._get("status")))

    @property
    def registered(self) -> bool:
        return bool(self._get("registered"))

    @property
    def trust(self) -> dict[str, float]:
        return {"government": float(self._get("trust_gov")), "external": float(self._get("trust_ext"))}

    @property
    def needs(self) -> dict[str, dict]:
        """Per area with a need: episode state, severity, provider name, months served."""
        out = {}
        providers = self.model.providers
        for a, area in enumerate(AREAS):
            state = Episode(int(self._get("ep")[a]))
            if state == Episode.NONE:
                continue
            p = int(self._get("ep_provider")[a])
            out[area] = {
                "state": state.name.lower(),
                "severity": float(self._get("ep_severity")[a]),
                "provider": providers[p].spec.name if p >= 0 else None,
                "months_served": int(self._get("ep_months")[a]),
            }
        return out

    @property
    def scores(self) -> dict[str, float]:
        """Reintegration score per dimension and composite (0-1)."""
        s = self.model.population.score[self.row]
        out = {d: float(s[i]) for i, d in enumerate(DIMENSIONS)}
        out["composite"] = float(s.mean())
        return out

    @property
    def sustainable(self) -> bool:
        """Composite score at or above `returnees.sustainable_score` (IOM's threshold 0.5)."""
        return self.scores["composite"] >= self.model.params.country.returnees.sustainable_score

    def __repr__(self) -> str:
        return (f"Returnee(row={self.row}, {self.modality}, {self.profile}, {self.region}, "
                f"arrived {self.arrival_month}, {self.status.name.lower()})")
