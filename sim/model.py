"""HandoverModel: one month per step, returnees as arrays, providers and funders as agents.

Step order (every month t; the code below follows it, one method per phase):

 1. scenario events and shocks   `scenario.apply(model, t)` sets national shares per
                                 segment, the donor funding factor and shock modifiers
 2. funders allocate             donors (project cycles x scenario x cuts), treasury
                                 (political will, ownership, fiscal space, takeover)
 3. providers adjust capacity    staff follow budgets; a provider over capacity
                                 interrupts its newest cases (transferred if the
                                 scenario has an exit plan, else left to the returnee)
 4. arrivals                     new returnees drawn from the arrivals/needs streams
 5. registration, help-seeking   reception of arrivals; latent needs become requests
 6. matching / referral          waiting episodes matched FIFO to providers with free
                                 capacity (channel by segment share; safety net last)
 7. service delivery, outcomes   scores gain from service (referral < direct); context
                                 pull and unmet-need decay; completed episodes close
 8. closure, drops, re-migration interrupted cases past the gap tolerance are dropped;
                                 re-migration hazard from unmet needs and scores;
                                 files close after the monitoring period
 9. system-state update          building blocks, providers' learning, trust
10. record metrics               one row of monthly aggregates

The per-episode work runs in compiled loops (`sim.kernels`): two passes a month over the
active rows, step 5's (which also builds step 6's queue of requests) and step 7's (which
also does the row work of steps 8 and 9 that needs no draw: drops, the re-migration
hazard's terms, closures, the direction of trust), and shorter loops over the queue and
over the files that end. Random draws and the rest stay here.
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import mesa
import numpy as np

from sim import kernels
from sim.agents import Donor, Provider, ReturneeView, Treasury
from sim.domain import (AREA_DIMENSION, AREAS, DIMENSIONS, MODALITIES, PROFILES, PROVIDER_KINDS, SEGMENTS,
                        Episode, Status)
from sim.params import RunParams
from sim.population import N_AREAS, Population, draw_arrivals
from sim.rng import Streams
from sim.system import NationalSystem

SEG = {s: i for i, s in enumerate(SEGMENTS)}
AREA_SEG = np.array([SEG[a] for a in AREAS])
AREA_DIM = np.array([DIMENSIONS.index(AREA_DIMENSION[a]) for a in AREAS])


def _rows(column: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """column[rows] (np.take is several times faster than fancy indexing here)."""
    return np.take(column, rows, axis=0)


def _at(column: np.ndarray, rows: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """column[rows, areas] for a (rows, areas) column, via a flat take (faster)."""
    return np.take(column.reshape(-1), rows * N_AREAS + areas)


def _cells(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero of a (rows, areas) mask, via the much faster flat version."""
    flat = np.flatnonzero(mask)
    rows = flat // N_AREAS
    return rows, flat - rows * N_AREAS


def _latest_record(model: "HandoverModel", key: str) -> float:
    """Model reporter: `key` of the month just recorded (phase 10)."""
    return model.records[-1][key]


class RecordCollector(mesa.DataCollector):
    """Mesa's DataCollector over the model's monthly records (one reporter per key).

    `collect` appends the month just recorded directly: the values are numbers, so the
    generic path (a reporter call and a deep copy per value, about 1 ms a month) is not
    needed. Tables and dataframes are Mesa's own.
    """

    def collect(self, model: "HandoverModel") -> None:
        """Append the latest record's values (phase 10)."""
        self._collection_steps.append(model.time)
        row = model.records[-1]
        for key, values in self.model_vars.items():
            values.append(row[key])


class NoScenario:
    """Nothing handed over, donors as planned: the neutral scenario."""

    exit_plan = False
    renew_cycles = False
    donor_follows_share = False
    national_takeover = 0.0
    matching_condition = False
    safety_net = None

    def apply(self, model: "HandoverModel", month: int) -> None:
        """Leave shares at zero and the donor factor at one."""


class HandoverModel(mesa.Model):
    """The handover simulator's model. See the module docstring for the step order.

    Mesa conventions: `running` turns False once `horizon_months` months have been stepped
    (stepping further raises), `datacollector` holds one row of model reporters per month
    (the aggregates of phase 10), so `mesa.batch_run(HandoverModel, {"params": [...]})`
    works; `returnee(row)` views do not join `model.agents`.

    Args:
        params: validated run parameters.
        scenario: object with `apply(model, month)` and the attributes of `NoScenario`;
            the model works on its own copy (scenarios keep state, e.g. readiness triggers).
        seed: the run's seed; split into named streams (`sim.rng.STREAMS`).

    `month` is the reported month. A run first spins up for `model.spinup_months` months
    (months -spinup ... -1) under the neutral `NoScenario`, recording nothing, so that
    month 0 starts from a settled state shared by every scenario with the same seed.
    People are stamped with the clock t = month + spinup (never negative: -1 stays the
    "never" marker of the population arrays).
    """

    def __init__(self, params: RunParams, scenario: Any = None, seed: int = 0):
        super().__init__(rng=seed)
        self.params = params
        self.streams = Streams(seed)
        self.spinup = params.model.spinup_months
        self.month = -self.spinup
        self.plan = copy.deepcopy(scenario) if scenario is not None else NoScenario()
        self.scenario = self.plan if self.spinup == 0 else NoScenario()
        c = params.country
        self.scale = params.model.scale
        ta0 = sum(f.monthly_budget * f.technical_assistance for f in c.funders if f.kind == "donor")
        self.system = NationalSystem(c.system, ta0)
        horizon = params.model.horizon_months
        expected = (c.arrivals.series.total_persons(horizon) if c.arrivals.series is not None
                    else c.arrivals.monthly_mean * horizon) / self.scale
        expected += c.arrivals.monthly_mean * self.spinup / self.scale  # the spin-up's arrivals
        self.population = Population(int(expected * 1.1) + 16)
        # Rows of active returnees, ascending; every phase works on these rows only.
        self._act = np.empty(0, dtype=np.int64)
        # Results handed from one phase to the next within a month (steps 5->6, 7->8, 8->9).
        self._queue = np.empty(0, dtype=np.int64)
        self._assessed = None
        self._trust_steps = np.empty(0, dtype=np.int8)
        self._known_n = 0
        self._n_closed = 0
        self._n_remigrated = 0
        #: Active returnee agents summed over every month stepped, spin-up included (the
        #: work a run did; the reported `active` column covers months >= 0 only).
        self.agent_months = 0
        self.providers = [Provider(self, spec, i) for i, spec in enumerate(c.providers)]
        self._load = np.zeros(len(self.providers), dtype=np.int64)  # episodes in service
        funding = self.streams.funding
        self.donors = {f.name: Donor(self, f, funding.random(64)) for f in c.funders if f.kind == "donor"}
        self.treasury = Treasury(self, c.treasury, c.system.initial["political_will"])
        self._weights = self._cost_weights()
        self._withdrawn = 0.0
        self.office = np.array([r.office for r in c.regions])
        self.labour = np.array([r.labour for r in c.regions])
        # Scenario-controlled state (step 1).
        self.shares = np.zeros((len(PROFILES), len(SEGMENTS)))
        self.donor_factor = 1.0
        self.ta_extra = 0.0  # extra share of donor budgets spent as technical assistance
        self.reset_modifiers()
        self.extra_arrivals: list[tuple[float, np.ndarray | None]] = []
        self.readiness = self.system.readiness(self._national_productivity(), self._absorption())
        self.records: list[dict[str, float]] = []
        # Model reporters are added at the first record, one per aggregate (see `record`).
        self.datacollector = mesa.DataCollector()
        self.dropped_total = 0
        self._dropped_month = 0
        self._month_counts = (0, 0)  # waiting and open episodes (step 9, for step 10)
        self._arrived_month = 0
        self._ta_usd = 0.0

    def reset_modifiers(self) -> None:
        """Set every shock modifier to neutral; active shocks multiply into them (step 1)."""
        self.labour_factor = np.ones(len(self.params.country.regions))
        self.trust_gov_factor = 1.0
        self.will_offset = 0.0  # political-will shocks (absolute)
        for funder in (*self.donors.values(), self.treasury):
            funder.multiplier = 1.0
        for p in self.providers:
            p.closed = False

    # ------------------------------------------------------------------ spin-up
    def spin_up(self) -> None:
        """Step the spin-up months (a no-op once month 0 is reached)."""
        while self.month < 0:
            self.step()

    def fork(self, scenario: Any = None) -> "HandoverModel":
        """An independent copy of this spun-up model that will run `scenario`.

        The spin-up runs under the neutral scenario and draws from the run's own streams,
        so it is the same for every scenario with the same parameters and seed (common
        random numbers): a spun-up model can be copied and each copy given its own plan,
        and every copy then runs exactly as a fresh model of that scenario would
        (tests/test_spinup.py).

        Raises:
            RuntimeError: the model is not at month 0 (not spun up, or already running).
        """
        if self.month != 0 or self.spinup == 0:
            raise RuntimeError(f"fork needs a spun-up model at month 0 (month {self.month}, "
                               f"model.spinup_months {self.spinup})")
        twin = copy.deepcopy(self)
        twin.plan = copy.deepcopy(scenario) if scenario is not None else NoScenario()
        return twin

    def release(self) -> None:
        """Free the returnee arrays now; the model can no longer be stepped or inspected.

        The model and its agents refer to each other, so Python frees a finished model only
        at the cyclic garbage collector's next full collection, which can be many runs
        later: a worker running hundreds of runs would hold the arrays of dozens of them.
        Studies release each model once its outcomes are computed.
        """
        self.population = None
        self._act = self._queue = self._assessed = self._trust_steps = None
        self.__dict__.pop("_views", None)
        self.running = False

    # ------------------------------------------------------------------ the month
    def step(self) -> None:
        """Advance one month, in the documented order.

        Raises:
            RuntimeError: the horizon has been reached (`running` is False).
        """
        if self.population is None:
            raise RuntimeError("the model was released (HandoverModel.release); it cannot step")
        if self.month >= self.params.model.horizon_months:
            raise RuntimeError(f"the model has run its {self.params.model.horizon_months} months "
                               "(model.horizon_months); it cannot step further")
        t = self.month + self.spinup
        if self.month == 0:
            self.scenario = self.plan  # the spin-up is over
        self.extra_arrivals = []
        self._track_new_rows()
        self.scenario.apply(self, self.month)  # 1
        self.system["political_will"] = self.system.will_base + self.will_offset
        budgets = self.allocate_funds(t)  # 2
        self.adjust_capacity(t, budgets)  # 3
        self.admit_arrivals(t)  # 4
        self.seek_help(t)  # 5
        self.match_episodes(t)  # 6
        self.deliver_services(t)  # 7
        self.close_drop_remigrate(t)  # 8
        self.update_system(t)  # 9
        self.record(t)  # 10
        self.agent_months += len(self._act)
        self.month += 1
        self.running = self.month < self.params.model.horizon_months

    def _track_new_rows(self) -> np.ndarray:
        """Add rows appended to the population since the last call to the active rows."""
        n = self.population.n
        new = np.arange(self._known_n, n)
        self._known_n = n
        self._act = np.concatenate([self._act, new])
        return new

    # 2 ---------------------------------------------------------------------------
    def mean_handed_share(self) -> float:
        """Average national share over segments and profiles (0 = nothing handed over)."""
        return float(self.shares.mean())

    def _cost_weights(self) -> dict[str, np.ndarray]:
        """Per donor, the expected share of its programmes' cost in each (profile, segment).

        The cost of a cell is what the donor's external implementers would spend on it:
        expected episodes per arrival (modality mix x vulnerability x need, in the regions
        they reach) x staff cost per case-month x mean months of assistance. Stages carry no
        capacity in the model, so they weigh nothing. A donor without external implementers
        (e.g. grants to local NGOs) hands over nothing.
        """
        c = self.params.country
        region_share = np.array([r.share for r in c.regions])
        mod_share = np.array([c.arrivals.modality_shares[m] for m in MODALITIES])
        vul = np.array([c.arrivals.vulnerable_share[m] for m in MODALITIES])
        prof_given_mod = np.stack([1 - vul, vul], axis=1)  # (modality, profile)
        need = np.array([[getattr(c.needs, pr)[a] for a in AREAS] for pr in PROFILES])
        out = {name: np.zeros((len(PROFILES), len(SEGMENTS))) for name in self.donors}
        for p in self.providers:
            if not p.external or p.spec.funder not in out:
                continue
            arrivals = (mod_share[:, None] * prof_given_mod * p.accepts_modality[:, None]
                        * p.accepts_profile[None, :]).sum(axis=0) * region_share[p.reaches].sum()
            unit = p.spec.staff_cost / max(p.spec.cases_per_staff, 1e-9) * np.mean(p.spec.assist_months)
            out[p.spec.funder][:, AREA_SEG] += arrivals[:, None] * need * p.offers[None, :] * unit
        for w in out.values():
            if w.sum() > 0:
                w /= w.sum()
        return out

    def handed_cost_share(self, donor: str) -> float:
        """Share of `donor`'s programme cost the scenario has handed over (cost-weighted)."""
        return float((self._weights[donor] * self.shares).sum())

    def allocate_funds(self, t: int) -> dict[str, float]:
        """Donors and treasury set this month's budgets; returns provider budgets (USD)."""
        sc = self.scenario
        match = self.treasury.fulfilment if getattr(sc, "matching_condition", False) else 1.0
        donor_budget, withdrawn = {}, 0.0
        for name, d in self.donors.items():
            follow = (1 - self.handed_cost_share(name)) if sc.donor_follows_share else 1.0
            factor = self.donor_factor * follow
            donor_budget[name] = d.allocate(self.month, factor * match, sc.renew_cycles)
            # Money the handover plan takes out of an active programme. Cuts, lapses and
            # matching penalties are not handover: no national pledge covers them.
            withdrawn += d.active * d.spec.monthly_budget * d.multiplier * max(0.0, 1 - factor)
        national = self.treasury.allocate(self.system["political_will"], self.system["ownership"],
                                          self.system["budget"], withdrawn, sc.national_takeover,
                                          self.system.relative("policy"))
        self._withdrawn = withdrawn
        ta_share = {n: min(1.0, d.spec.technical_assistance + self.ta_extra) for n, d in self.donors.items()}
        self._ta_usd = sum(b * ta_share[n] for n, b in donor_budget.items())
        budgets: dict[str, float] = {}
        funded_by: dict[str, list[Provider]] = {}
        for p in self.providers:
            funded_by.setdefault(p.spec.funder, []).append(p)
        for funder, members in funded_by.items():
            if funder == self.treasury.spec.name:
                for p in members:
                    budgets[p.spec.name] = national * self.treasury.spec.shares[p.spec.name]
            else:
                service = donor_budget[funder] * (1 - ta_share[funder])
                for p in members:
                    budgets[p.spec.name] = service / len(members)
        self._national_allocation = national
        self._donor_allocation = sum(donor_budget.values())
        return budgets

    # 3 ---------------------------------------------------------------------------
    def adjust_capacity(self, t: int, budgets: dict[str, float]) -> None:
        """Providers set staff and capacity; cases above capacity are interrupted."""
        for p in self.providers:
            p.adjust_capacity(budgets[p.spec.name])
        # Who the funded programmes accept, and so each episode's channel, is fixed for the
        # rest of the month: compute the tables once.
        self._eligible = self._eligible_now()
        self._threshold = self._national_threshold()
        load = self._caseloads()
        pop = self.population
        act = self._act
        for p in self.providers:
            excess = load[p.index] - p.capacity
            if excess <= 0:
                continue
            r, areas = _cells((_rows(pop.ep, act) == Episode.IN_SERVICE) & (_rows(pop.ep_provider, act) == p.index))
            rows = act[r]
            # Newest cases go first (fewest months served; ties by row order).
            order = np.lexsort((-rows, _at(pop.ep_months, rows, areas)))[:excess]
            self._interrupt(t, rows[order], areas[order])

    def _interrupt(self, t: int, rows: np.ndarray, areas: np.ndarray) -> None:
        pop = self.population
        self._release(_at(pop.ep_provider, rows, areas))
        pop.ep[rows, areas] = Episode.INTERRUPTED
        pop.ep_provider[rows, areas] = -1
        pop.ep_interrupted[rows, areas] = t
        pop.ep_transfer[rows, areas] = bool(self.scenario.exit_plan)

    # 4 ---------------------------------------------------------------------------
    def admit_arrivals(self, t: int) -> None:
        """Draw this month's returnees (plus any surge from the shocks stream) and receive them."""
        c = self.params.country
        mean, modality_mix, region_mix = c.arrivals.monthly_mean, None, None
        if c.arrivals.series is not None:  # the country's own data: Poisson around the series
            # reported month; the spin-up repeats the first observed month
            persons, region_mix = c.arrivals.series.month(max(self.month, 0))
            mean = sum(persons)
            modality_mix = np.asarray(persons) if mean > 0 else None
        n = int(self.streams.arrivals.poisson(mean / self.scale))
        rows = [self.population.add(draw_arrivals(c, t, n, self.streams.arrivals, self.streams.needs,
                                                  modality_mix, region_mix))]
        for persons, mix in self.extra_arrivals:
            k = int(self.streams.shocks.poisson(persons / self.scale))
            rows.append(self.population.add(draw_arrivals(c, t, k, self.streams.shocks, self.streams.shocks, mix)))
        new = self._track_new_rows()
        self._arrived_month = len(new)
        if self.trust_gov_factor != 1.0:
            self.population.trust_gov[new] *= self.trust_gov_factor
        self._receive(new)

    def _eligible_now(self) -> np.ndarray:
        """(modality, profile) -> some funded external provider accepts it this month."""
        ok = np.zeros((len(MODALITIES), len(PROFILES)), dtype=bool)
        for p in self.providers:
            if p.external and p.funded:
                ok |= p.accepts_modality[:, None] & p.accepts_profile[None, :]
        return ok

    def _receive(self, rows: np.ndarray) -> None:
        """Reception at arrival: registered with the external programme or nationally."""
        pop = self.population
        elig = self._eligible_now()[pop.modality[rows], pop.profile[rows]]
        national = ~elig | (pop.u_reception[rows] < self.shares[pop.profile[rows], SEG["reception"]])
        reach = np.where(national, self.system.reception_reach(self.office)[pop.region[rows]],
                         self.params.country.system.reception_reach_external)
        pop.registered[rows] = self.streams.behaviour.random(len(rows)) < reach

    # 5 ---------------------------------------------------------------------------
    def _national_threshold(self) -> np.ndarray:
        """Flat (modality, profile, area) table: an episode goes to the national channel when
        its draw `ep_u` is below the entry, i.e. the segment's national share where a funded
        programme provider accepts the returnee, else 2 (always national)."""
        share = self.shares[:, AREA_SEG]  # (profile, area)
        return np.where(self._eligible[:, :, None], share[None], 2.0).ravel()

    def seek_help(self, t: int) -> None:
        """Latent needs (and interrupted cases not transferred) turn into requests for help."""
        pop = self.population
        beh = self.params.country.returnees
        # One pass: requests waiting longer than the returnee's patience are given up (back
        # to latent); the seekers' probabilities; the requests already queued for step 6.
        seekers, prob, queued = kernels.seek(
            self._act, pop.ep, pop.ep_transfer, pop.ep_wait_since, pop.ep_u, pop.modality, pop.profile,
            pop.registered, pop.trust_gov, pop.trust_ext, self._threshold, len(PROFILES),
            float(beh.help_seeking), float(beh.unregistered_factor), t, beh.patience_months)
        u = self.streams.behaviour.random(len(seekers))
        # Latent seekers start waiting; interrupted cases re-sought are matched this month only.
        self._queue = kernels.request(pop.ep, pop.ep_wait_since, t, seekers, prob, u, queued)

    # 6 ---------------------------------------------------------------------------
    def match_episodes(self, t: int) -> None:
        """Match requests to providers with free capacity, oldest requests first."""
        pop = self.population
        # Waiting requests, cases interrupted and transferred under an exit plan, and
        # interrupted cases re-sought this month (step 5).
        queue = self._queue
        if len(queue) == 0:
            return
        # A transfer under an exit plan is a warm referral to the national system: it goes
        # through the national referral mechanism and needs the returnee to accept it;
        # coordination between programmes and national services carries the case file across.
        handoff = self.system.referral_success * min(1.0, self.system.relative("coordination"))
        reach = self.streams.behaviour.random(len(queue))
        tie = self.streams.behaviour.random(len(queue))  # random order among ties
        rows, areas, national, cell, severe, interrupted, since, tie = kernels.match_terms(
            queue, reach, tie, pop.ep, pop.ep_transfer, pop.ep_u, pop.ep_interrupted, pop.ep_wait_since,
            pop.ep_severity, pop.modality, pop.profile, pop.region, pop.u_case, pop.trust_gov,
            self._threshold, len(MODALITIES), len(PROFILES), len(self.params.country.regions),
            self._eligible, self.shares[:, SEG["case_management"]].copy(),
            float(self.system.referral_success), float(self.params.country.system.referral_success_external),
            float(handoff), float(self.params.country.returnees.transfer_trust_weight),
            # a severe need requires direct (specialist) service: a provider that refers cannot take it
            np.float32(self.params.country.needs.specialist_severity))
        # Interrupted cases first, then first come first served; ties in random order.
        order = kernels.queue_order(interrupted, since, tie)
        rows, areas, national = rows[order], areas[order], national[order]
        cell, severe = cell[order], severe[order]
        taken = np.zeros(len(rows), dtype=bool)
        free = np.array([max(p.capacity - c, 0) for p, c in zip(self.providers, self._caseloads())])
        for p in self.providers:
            if p.funded and free[p.index] > 0:
                pick = kernels.first_eligible(national, not p.external, p.serves_cell, cell, severe,
                                              p.by_referral, areas, taken, free[p.index])
                self._assign(t, p, rows, areas, pick, free, taken)
        self._open_services(t, rows, areas, national, cell, severe, free, taken)
        net = self.scenario.safety_net
        if net and self.month >= net["start"] and (net["until"] is None or self.month < net["until"]):
            prof, reg = pop.profile[rows], pop.region[rows]
            wait_since = _at(pop.ep_wait_since, rows, areas)
            waited = t - np.where(wait_since >= 0, wait_since, t)
            in_net = (national & np.isin(prof, [PROFILES.index(x) for x in net["profiles"]])
                      & np.isin(areas, [AREAS.index(x) for x in net["areas"]])
                      & (waited >= net.get("wait_months", 0)))
            for p in self.providers:
                if p.external and p.funded and free[p.index] > 0:
                    ok = in_net & p.offers[areas] & p.reaches[reg] & ~(severe & p.by_referral[areas])
                    self._assign(t, p, rows, areas, np.flatnonzero(ok & ~taken)[: free[p.index]], free, taken)

    def _open_services(self, t: int, rows: np.ndarray, areas: np.ndarray, national: np.ndarray,
                       cell: np.ndarray, severe: np.ndarray, free: np.ndarray, taken: np.ndarray) -> None:
        """National services open to all take programme-eligible returnees left waiting on the
        external channel: within their own rules, if the returnee trusts government enough to
        turn to them, and only with the share of free places that mainstreaming opens."""
        open_ = [p for p in self.providers if p.spec.open_to_programme_returnees and not p.external
                 and p.funded and free[p.index] > 0]
        if not open_:
            return
        pop = self.population
        turns = self.streams.behaviour.random(len(rows)) < pop.trust_gov[rows]
        share = self.system["mainstreaming"]
        for p in open_:
            slots = np.array(free)
            slots[p.index] = int(free[p.index] * share)
            ok = ~national & turns & p.serves_cell[cell] & ~(severe & p.by_referral[areas]) & ~taken
            before = slots[p.index]
            self._assign(t, p, rows, areas, np.flatnonzero(ok)[: slots[p.index]], slots, taken)
            free[p.index] -= before - slots[p.index]

    def _assign(self, t: int, p: Provider, rows: np.ndarray, areas: np.ndarray, pick: np.ndarray,
                free: np.ndarray, taken: np.ndarray) -> None:
        """Provider p takes the requests `pick` (indices into rows, areas; at most its free places)."""
        if len(pick) == 0:
            return
        pop = self.population
        lo, hi = p.spec.assist_months
        # Severer needs get longer assistance within the provider's range: the position in
        # [lo, hi] mixes the routing draw with the severity (rescaled to 0-1) by weight e.
        # Constants in float32, as numpy combines a Python float with float32 columns.
        needs = self.params.country.needs
        e = needs.severity_duration_effect
        kernels.assign(rows, areas, pick, p.index, p.by_referral, p.external, t, lo, hi,
                       np.float32(needs.severity_min), np.float32(max(1 - needs.severity_min, 1e-9)),
                       np.float32(1 - e), np.float32(e), pop.ep, pop.ep_provider, pop.ep_referral,
                       pop.ep_external, pop.ep_severity, pop.ep_u_duration, pop.ep_duration,
                       pop.ep_first_served, pop.ep_interrupted, pop.ep_transfer, pop.ever_external, taken)
        free[p.index] -= len(pick)
        self._load[p.index] += len(pick)

    # 7 ---------------------------------------------------------------------------
    def deliver_services(self, t: int) -> None:
        """Served episodes raise scores; context and unmet needs move them; completions close
        and start follow-up.

        The same pass over the active rows (`kernels.serve_and_assess`) also does the row
        work of steps 8 and 9 that needs no draw: drops, the re-migration hazard's terms and
        the direction of each returnee's trust; `close_drop_remigrate` and `update_system`
        use them this month.
        """
        pop = self.population
        c = self.params.country
        beh = c.returnees
        m = self.params.model
        service = (float(beh.service_gain), float(beh.referral_factor), float(beh.unmet_decay),
                   float(beh.context_pull))
        hazard = (float(beh.sustainable_score), float(beh.remigration_unmet), float(beh.remigration_score),
                  float(beh.follow_up_effect), self._national_productivity(),
                  float(c.system.follow_up_quality_external) if self._eligible.any() else 0.0)
        is_national = np.array([not p.external for p in self.providers])
        self._assessed = kernels.serve_and_assess(
            self._act, pop.ep, pop.ep_provider, pop.ep_referral, pop.ep_months, pop.ep_duration,
            pop.ep_interrupted, pop.ep_transfer, pop.ep_wait_since, pop.ep_u, pop.score, pop.region,
            pop.modality, pop.profile, pop.u_follow, pop.follow_until, pop.follow_national, pop.arrival,
            self._load, self._quality(), AREA_DIM, self.labour * self.labour_factor, self._eligible,
            self.shares[:, SEG["follow_up"]].copy(), is_national, self._threshold, len(PROFILES), t,
            beh.follow_up_months, max(m.gap_tolerance_months, 1), m.monitoring_months, service, hazard)

    def _quality(self) -> np.ndarray:
        """(provider, area) effective service quality this month."""
        return np.array([p.quality for p in self.providers], dtype=np.float64).reshape(-1, N_AREAS)

    # 8 ---------------------------------------------------------------------------
    def close_drop_remigrate(self, t: int) -> None:
        """Drop cases past the gap tolerance, draw re-migration, close finished files.

        The drops, the hazard's terms and the files that close were found by step 7's pass
        (`deliver_services`)."""
        pop = self.population
        beh = self.params.country.returnees
        act = self._act
        exponent, follow, closes, steps, dropped, waiting, unmet = self._assessed
        self._assessed = None
        self._dropped_month = dropped
        self.dropped_total += dropped
        # A returnee leaves when u < 1 - exp(-hazard), hazard = base x exp(exponent) x follow,
        # with numpy's exponentials. Most draws are surely above that probability: only the
        # other rows need the exact value (`kernels.may_leave`), computed as for all rows.
        base = float(beh.remigration_base)
        u = self.streams.outcomes.random(len(act))
        rows = kernels.may_leave(u, exponent, follow, base)
        survival = np.exp(exponent[rows])
        np.multiply(survival, -base, out=survival)  # -(base x e) x f is -hazard exactly
        np.multiply(survival, follow[rows], out=survival)
        np.exp(survival, out=survival)
        leaves = np.zeros(len(act), dtype=bool)
        leaves[rows] = u[rows] < 1 - survival
        # Re-migration, then closure: monitoring over, or nothing open and follow-up finished.
        self._act, self._trust_steps, left, closed, waiting_gone, unmet_gone = kernels.close_files(
            act, leaves, closes, steps, t, pop.ep, pop.ep_provider, pop.status, pop.exit_month,
            self._load, int(Status.REMIGRATED), int(Status.CLOSED))
        self._n_remigrated += left
        self._n_closed += closed
        # The month's waiting and open episodes of the files still active (for `record`).
        self._month_counts = (waiting - waiting_gone, unmet - unmet_gone)

    # 9 ---------------------------------------------------------------------------
    def _caseloads(self) -> np.ndarray:
        """Episodes in service per provider (kept by counters; see `count_caseloads`)."""
        return self._load.copy()

    def _release(self, providers: np.ndarray) -> None:
        """Free one slot of each listed provider (completion, interruption, file closed)."""
        self._load -= np.bincount(providers, minlength=len(self.providers))

    def count_caseloads(self) -> np.ndarray:
        """Episodes in service per provider, counted from the arrays (checks the counters)."""
        pop = self.population
        prov = _rows(pop.ep_provider, self._act)
        mask = (_rows(pop.ep, self._act) == Episode.IN_SERVICE) & (prov >= 0)
        return np.bincount(prov[mask], minlength=len(self.providers))

    def _national_productivity(self) -> float:
        """National providers' productivity, weighted by staff (what np.average computes,
        without its checks: the same values, a quarter of the time)."""
        nat = [p for p in self.providers if not p.external]
        if not nat:
            return 0.0
        weights = np.array([p.staff for p in nat]) + 1e-9
        return float((np.array([p.productivity for p in nat]) * weights).sum() / weights.sum())

    def _absorption(self) -> float:
        """National capacity relative to the whole caseload in service (at most 1): how much
        of today's assistance the national providers could carry."""
        national = sum(p.capacity for p in self.providers if not p.external)
        total = sum(p.caseload for p in self.providers)
        return min(1.0, national / total) if total else (1.0 if national else 0.0)

    def update_system(self, t: int) -> None:
        """Providers learn, trust follows experience, building blocks move."""
        load = self._caseloads()
        for p in self.providers:
            p.caseload = int(load[p.index])
        national_load = sum(p.caseload for p in self.providers if not p.external)
        total_load = sum(p.caseload for p in self.providers)
        learners = [p for p in self.providers if p.spec.learning and not p.external]
        for p in learners:
            p.learn(self._ta_usd / len(learners), self.system.structure)
        nat_spend = sum(p.spend for p in self.providers if not p.external)
        all_spend = sum(p.spend for p in self.providers) + self._ta_usd
        self.system.update_will(fiscal_stress=1.0 - min(1.0, self.treasury.multiplier))
        self.system.update(national_load / total_load if total_load else 0.0,
                           nat_spend / all_spend if all_spend else 0.0, self._ta_usd)
        self.readiness = self.system.readiness(self._national_productivity(), self._absorption())
        # Trust in government: up when served by national actors, down while left waiting on
        # them (the direction found by step 7's pass), and back toward the norm.
        beh = self.params.country.returnees
        norm = min(1.0, beh.trust_gov * self.system.trust_factor)
        kernels.update_trust(self._act, self._trust_steps, self.population.trust_gov,
                             float(beh.trust_learning), float(beh.trust_reversion), float(norm))

    # 10 --------------------------------------------------------------------------
    def record(self, t: int) -> None:
        """Append this month's aggregates (people in persons, money in USD)."""
        pop = self.population
        k = self.scale
        act = self._act
        # Score at 12 months of the cohort that arrived a year ago (rows are in arrival order).
        arrival = pop.view("arrival")
        # (months as the column's dtype: a Python list would make numpy cast the whole column)
        lo, hi = np.searchsorted(arrival, np.array([t - 12, t - 11], dtype=arrival.dtype))
        cohort = slice(lo, hi)
        kept = pop.status[cohort] != Status.REMIGRATED
        pop.score_12m[cohort] = np.where(kept, pop.score[cohort].mean(axis=1), pop.score_12m[cohort])
        if self.month < 0:
            return  # spin-up months are not reported
        waiting, unmet = self._month_counts  # counted by update_system (step 9)
        row: dict[str, float] = {
            "month": self.month,
            "arrivals": self._arrived_month * k,
            "active": len(act) * k,
            "closed": self._n_closed * k,
            "remigrated": self._n_remigrated * k,
            "waiting": waiting * k,
            "unmet_need": unmet * k,
            "dropped": self._dropped_month * k,
            "donor_spend": sum(p.spend for p in self.providers if p.spec.funder in self.donors) + self._ta_usd,
            "national_spend": sum(p.spend for p in self.providers if p.spec.funder == self.treasury.spec.name),
            "donor_allocation": self._donor_allocation,
            "national_allocation": self._national_allocation,
            "donor_withdrawn": self._withdrawn,
            "treasury_committed": self.treasury.committed,
            "treasury_fulfilment": self.treasury.fulfilment,
            "national_share": self.mean_handed_share(),
            "readiness": self.readiness,
            "ta_spend": self._ta_usd,
            "referral_success": self.system.referral_success,
            "trust_gov": float(_rows(pop.trust_gov, act).mean()) if len(act) else np.nan,
        }
        load = np.zeros(len(PROVIDER_KINDS))
        cap = np.zeros(len(PROVIDER_KINDS))
        for p in self.providers:
            load[PROVIDER_KINDS.index(p.spec.kind)] += p.caseload * k
            cap[PROVIDER_KINDS.index(p.spec.kind)] += p.capacity * k
            row[f"budget_{p.spec.name}"] = p.budget
        for i, kind in enumerate(PROVIDER_KINDS):
            row[f"caseload_{kind}"] = load[i]
            row[f"capacity_{kind}"] = cap[i]
        for block, value in self.system.as_dict().items():
            row[f"block_{block}"] = value
        self.records.append(row)
        if not self.datacollector.model_reporters:
            self.datacollector = RecordCollector(
                model_reporters={key: partial(_latest_record, key=key) for key in row})
        self.datacollector.collect(self)

    # -------------------------------------------------------------- inspection
    def returnee(self, row: int) -> ReturneeView:
        """A Mesa Agent view of returnee `row` (created on first request, then cached)."""
        if not 0 <= row < self.population.n:
            raise IndexError(f"returnee row {row} out of range 0..{self.population.n - 1}")
        cache = self.__dict__.setdefault("_views", {})
        if row not in cache:
            cache[row] = ReturneeView(self, row)
        return cache[row]
