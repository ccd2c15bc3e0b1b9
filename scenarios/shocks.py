"""Shocks (stress events): dated changes to the model, usable in any scenario.

Each shock is a small dataclass with `apply(model, month)`, called every month after the
scenario's schedules. The scenario resets the shock modifiers to neutral each month
(`HandoverModel.reset_modifiers`) and active shocks multiply into them, so overlapping
shocks compose (two 50 % cuts leave 25 %). A shock touches only what it names; extra arrivals come from the
`shocks` random stream so the other streams' draws are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.domain import MODALITIES
from sim.params import check_range, fail, from_dict


def _active(month: int, start: int, duration: int | None) -> bool:
    return month >= start and (duration is None or month < start + duration)


def _check_timing(path: str, start: int, duration: int | None) -> None:
    check_range(f"{path}.start", start, 0)
    if duration is not None:
        check_range(f"{path}.duration", duration, 1)


@dataclass
class FundingCut:
    """Cut `size` (share, 0-1) of a funder's budget from `start` for `duration` months
    (null = for good). `funder`: a funder name (the treasury's too) or `all_donors`."""

    funder: str
    size: float
    start: int
    duration: int | None = None

    def check(self, path: str, names: dict[str, list[str]]) -> None:
        allowed = names["funders"] + ["all_donors"]
        if self.funder not in allowed:
            fail(f"{path}.funder", f"unknown funder '{self.funder}'; allowed: {', '.join(allowed)}")
        check_range(f"{path}.size", self.size, 0.0, 1.0)
        _check_timing(path, self.start, self.duration)

    def apply(self, model: Any, month: int) -> None:
        if not _active(month, self.start, self.duration):
            return
        targets = list(model.donors.values()) if self.funder == "all_donors" else (
            [model.treasury] if self.funder == model.treasury.spec.name else [model.donors[self.funder]])
        for funder in targets:
            funder.multiplier *= 1 - self.size


@dataclass
class ReturnSurge:
    """Extra returns: `persons` in total spread evenly over `duration` months from `start`,
    with an optional modality mix (default: the profile's). E.g. 2023 Tunisia -> Côte
    d'Ivoire, about 1,500 people in weeks."""

    persons: float
    start: int
    duration: int = 1
    modality_mix: dict[str, float] | None = None

    def check(self, path: str, names: dict[str, list[str]]) -> None:
        check_range(f"{path}.persons", self.persons, 0.0)
        _check_timing(path, self.start, self.duration)
        if self.modality_mix is not None:
            unknown = set(self.modality_mix) - set(MODALITIES)
            if unknown:
                fail(f"{path}.modality_mix.{sorted(unknown)[0]}", f"unknown modality; allowed: {', '.join(MODALITIES)}")
            if abs(sum(self.modality_mix.values()) - 1) > 1e-6:
                fail(f"{path}.modality_mix", f"shares must sum to 1, got {sum(self.modality_mix.values()):.6g}")

    def apply(self, model: Any, month: int) -> None:
        if _active(month, self.start, self.duration):
            mix = None if self.modality_mix is None else np.array(
                [self.modality_mix.get(m, 0.0) for m in MODALITIES])
            model.extra_arrivals.append((self.persons / self.duration, mix))


@dataclass
class PoliticalWillDrop:
    """Political will is `size` lower (absolute, 0-1) from `start` for `duration` months
    (null = for good); it lowers the will that the system's own dynamics produce."""

    size: float
    start: int
    duration: int | None = None

    def check(self, path: str, names: dict[str, list[str]]) -> None:
        check_range(f"{path}.size", self.size, 0.0, 1.0)
        _check_timing(path, self.start, self.duration)

    def apply(self, model: Any, month: int) -> None:
        if _active(month, self.start, self.duration):
            model.will_offset -= self.size


@dataclass
class TrustShock:
    """Trust in government falls by the share `size` at `start` for everyone present, and
    for new arrivals during `duration` months (null = for good)."""

    size: float
    start: int
    duration: int | None = None

    def check(self, path: str, names: dict[str, list[str]]) -> None:
        check_range(f"{path}.size", self.size, 0.0, 1.0)
        _check_timing(path, self.start, self.duration)

    def apply(self, model: Any, month: int) -> None:
        if month == self.start:
            pop = model.population
            pop.trust_gov[: pop.n] *= 1 - self.size
        if _active(month, self.start, self.duration):
            model.trust_gov_factor *= 1 - self.size


@dataclass
class EconomicDownturn:
    """Labour-market absorption of `region` (or `all`) falls by the share `size`."""

    region: str
    size: float
    start: int
    duration: int | None = None

    def check(self, path: str, names: dict[str, list[str]]) -> None:
        allowed = names["regions"] + ["all"]
        if self.region not in allowed:
            fail(f"{path}.region", f"unknown region '{self.region}'; allowed: {', '.join(allowed)}")
        check_range(f"{path}.size", self.size, 0.0, 1.0)
        _check_timing(path, self.start, self.duration)

    def apply(self, model: Any, month: int) -> None:
        if not _active(month, self.start, self.duration):
            return
        regions = [r.name for r in model.params.country.regions]
        idx = slice(None) if self.region == "all" else regions.index(self.region)
        model.labour_factor[idx] *= 1 - self.size


@dataclass
class ProviderClosure:
    """A provider closes (no budget, so its cases are interrupted) from `start` for
    `duration` months (null = for good)."""

    provider: str
    start: int
    duration: int | None = None

    def check(self, path: str, names: dict[str, list[str]]) -> None:
        if self.provider not in names["providers"]:
            fail(f"{path}.provider", f"unknown provider '{self.provider}'; allowed: {', '.join(names['providers'])}")
        _check_timing(path, self.start, self.duration)

    def apply(self, model: Any, month: int) -> None:
        if not _active(month, self.start, self.duration):
            return
        for p in model.providers:
            if p.spec.name == self.provider:
                p.closed = True


#: kind -> class
SHOCKS = {
    "funding_cut": FundingCut,
    "return_surge": ReturnSurge,
    "political_will_drop": PoliticalWillDrop,
    "trust_shock": TrustShock,
    "economic_downturn": EconomicDownturn,
    "provider_closure": ProviderClosure,
}


def build_shock(spec: Any, path: str, names: dict[str, list[str]]):
    """Build a shock from `{kind: ..., ...}`; `names` lists the country's funders,
    regions and providers for reference checks.

    Raises:
        ParameterError: unknown kind, unknown or missing field, bad value or reference.
    """
    if not isinstance(spec, dict) or "kind" not in spec:
        fail(path, f"must be a mapping with 'kind' (one of: {', '.join(SHOCKS)})")
    kind = spec["kind"]
    if kind not in SHOCKS:
        fail(f"{path}.kind", f"unknown shock kind '{kind}'; allowed: {', '.join(SHOCKS)}")
    shock = from_dict(SHOCKS[kind], {k: v for k, v in spec.items() if k != "kind"}, path)
    shock.check(path, names)
    return shock
