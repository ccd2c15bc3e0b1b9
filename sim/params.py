"""Typed, validated parameters of one run, built from plain dicts (e.g. composed YAML).

Every class rejects unknown keys and checks ranges; errors name the dotted field and what
is allowed (`ParameterError`). Units and sources of the values live in the YAML profiles
under `configs/country/`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from sim.domain import (
    AREAS,
    BLOCKS,
    FUNDER_KINDS,
    MODALITIES,
    PROFILES,
    PROVIDER_KINDS,
    SERVICE_MODES,
)


class ParameterError(ValueError):
    """An invalid parameter: the message names the dotted field and the allowed values."""


def fail(path: str, message: str) -> typing.NoReturn:
    raise ParameterError(f"{path}: {message}")


def check_range(path: str, value: float, low: float, high: float | None = None) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        fail(path, f"must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        fail(path, f"must be {allowed}, got {value}")


def _check_unit_dict(path: str, values: dict, keys: tuple[str, ...], total: float | None = None):
    if not isinstance(values, dict):
        fail(path, f"must be a mapping with keys {', '.join(keys)}")
    unknown = set(values) - set(keys)
    if unknown:
        fail(f"{path}.{sorted(unknown)[0]}", f"unknown key; allowed: {', '.join(keys)}")
    missing = [k for k in keys if k not in values]
    if total is not None and missing:
        fail(f"{path}.{missing[0]}", "missing (every key is required)")
    for key, val in values.items():
        check_range(f"{path}.{key}", val, 0.0, 1.0)
    if total is not None and abs(sum(values.values()) - total) > 1e-6:
        fail(path, f"shares must sum to {total}, got {sum(values.values()):.6g}")


def _check_subset(path: str, values: list, allowed: tuple[str, ...] | list[str]) -> None:
    if not isinstance(values, list) or not values:
        fail(path, f"must be a non-empty list of: {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            fail(path, f"unknown value '{v}'; allowed: {', '.join(allowed)}")


@dataclass(frozen=True)
class ModelSettings:
    """Run-level settings: time frame, scale and metric definitions."""

    horizon_months: int = 120
    handover_start: int = 24
    warmup_months: int = 6
    scale: int = 2
    timely_months: int = 3
    gap_tolerance_months: int = 2
    gap_delta: float = 0.2
    monitoring_months: int = 48

    def check(self, path: str) -> None:
        """Validate ranges."""
        check_range(f"{path}.horizon_months", self.horizon_months, 1)
        check_range(f"{path}.handover_start", self.handover_start, 0, self.horizon_months)
        check_range(f"{path}.warmup_months", self.warmup_months, 0, self.handover_start)
        check_range(f"{path}.scale", self.scale, 1)
        check_range(f"{path}.timely_months", self.timely_months, 1)
        check_range(f"{path}.gap_tolerance_months", self.gap_tolerance_months, 0)
        check_range(f"{path}.gap_delta", self.gap_delta, 0.0, 1.0)
        check_range(f"{path}.monitoring_months", self.monitoring_months, 1)


@dataclass(frozen=True)
class Arrivals:
    """Monthly returns and their composition."""

    monthly_mean: float
    modality_shares: dict[str, float]
    vulnerable_share: dict[str, float]

    def check(self, path: str) -> None:
        """Validate ranges and that shares sum to one."""
        check_range(f"{path}.monthly_mean", self.monthly_mean, 0.0)
        _check_unit_dict(f"{path}.modality_shares", self.modality_shares, MODALITIES, total=1.0)
        _check_unit_dict(f"{path}.vulnerable_share", self.vulnerable_share, MODALITIES)


@dataclass(frozen=True)
class Region:
    """A region of return (data, not an agent)."""

    name: str
    share: float
    office: float
    labour: float

    def check(self, path: str) -> None:
        """Validate ranges."""
        for key in ("share", "office", "labour"):
            check_range(f"{path}.{key}", getattr(self, key), 0.0, 1.0)


@dataclass(frozen=True)
class Needs:
    """Probability of a need in each area at arrival, by profile."""

    standard: dict[str, float]
    vulnerable: dict[str, float]

    def check(self, path: str) -> None:
        """Validate that each profile gives a probability for every area."""
        for profile in PROFILES:
            values = getattr(self, profile)
            _check_unit_dict(f"{path}.{profile}", values, AREAS)
            missing = [a for a in AREAS if a not in values]
            if missing:
                fail(f"{path}.{profile}.{missing[0]}", "missing (every area is required)")


@dataclass(frozen=True)
class ReturneeParams:
    """Behaviour of returnees: trust, help-seeking, score dynamics, re-migration."""

    trust_gov: float
    trust_ext: float
    trust_concentration: float
    help_seeking: float
    unregistered_factor: float
    patience_months: int
    initial_score: float
    vulnerable_score_penalty: float
    service_gain: float
    referral_factor: float
    unmet_decay: float
    context_pull: float
    follow_up_months: int
    follow_up_effect: float
    remigration_base: float
    remigration_unmet: float
    remigration_score: float
    trust_learning: float
    trust_reversion: float

    def check(self, path: str) -> None:
        """Validate ranges."""
        unit = ("trust_gov", "trust_ext", "help_seeking", "unregistered_factor", "initial_score",
                "vulnerable_score_penalty", "service_gain", "referral_factor", "unmet_decay",
                "context_pull", "follow_up_effect", "remigration_base", "trust_learning",
                "trust_reversion")
        for key in unit:
            check_range(f"{path}.{key}", getattr(self, key), 0.0, 1.0)
        check_range(f"{path}.trust_concentration", self.trust_concentration, 0.5)
        check_range(f"{path}.follow_up_months", self.follow_up_months, 0)
        check_range(f"{path}.patience_months", self.patience_months, 1)
        check_range(f"{path}.remigration_unmet", self.remigration_unmet, 0.0)
        check_range(f"{path}.remigration_score", self.remigration_score, 0.0)


@dataclass(frozen=True)
class ProviderSpec:
    """A service provider: what it offers, to whom, where, with what capacity and cost."""

    name: str
    kind: str
    funder: str
    areas: dict[str, str]
    regions: list[str]
    modalities: list[str]
    profiles: list[str]
    staff_cost: float
    cases_per_staff: float
    initial_staff: float
    hiring_lag_months: float
    quality: float | dict[str, float]
    assist_months: list[int]
    learning: bool = False

    @property
    def external(self) -> bool:
        """True for externally funded programme implementers (the external channel)."""
        return self.kind == "external_implementer"

    def check(self, path: str) -> None:
        """Validate vocabularies and ranges."""
        if self.kind not in PROVIDER_KINDS:
            fail(f"{path}.kind", f"unknown kind '{self.kind}'; allowed: {', '.join(PROVIDER_KINDS)}")
        if not isinstance(self.areas, dict) or not self.areas:
            fail(f"{path}.areas", f"must map areas ({', '.join(AREAS)}) to direct|referral")
        for area, mode in self.areas.items():
            if area not in AREAS:
                fail(f"{path}.areas.{area}", f"unknown area; allowed: {', '.join(AREAS)}")
            if mode not in SERVICE_MODES:
                fail(f"{path}.areas.{area}", f"unknown mode '{mode}'; allowed: direct, referral")
        _check_subset(f"{path}.modalities", self.modalities, MODALITIES)
        _check_subset(f"{path}.profiles", self.profiles, PROFILES)
        check_range(f"{path}.staff_cost", self.staff_cost, 1e-9)
        check_range(f"{path}.cases_per_staff", self.cases_per_staff, 0.0)
        check_range(f"{path}.initial_staff", self.initial_staff, 0.0)
        check_range(f"{path}.hiring_lag_months", self.hiring_lag_months, 1.0)
        if isinstance(self.quality, dict):
            for area, q in self.quality.items():
                if area not in self.areas:
                    fail(f"{path}.quality.{area}", f"not an area this provider offers; allowed: {', '.join(self.areas)}")
                check_range(f"{path}.quality.{area}", q, 0.0, 1.0)
            missing = [a for a in self.areas if a not in self.quality]
            if missing:
                fail(f"{path}.quality.{missing[0]}", "missing: give a quality for every area offered, or one number")
        else:
            check_range(f"{path}.quality", self.quality, 0.0, 1.0)
        if (not isinstance(self.assist_months, list) or len(self.assist_months) != 2
                or not 1 <= self.assist_months[0] <= self.assist_months[1]):
            fail(f"{path}.assist_months", "must be [min, max] months with 1 <= min <= max")


@dataclass(frozen=True)
class FunderSpec:
    """A donor (project cycles) or the national treasury."""

    name: str
    kind: str
    monthly_budget: float
    cycle_months: int = 36
    renewal_prob: float = 1.0
    first_cycle_end: int = 36
    technical_assistance: float = 0.0
    budget_responsiveness: float = 0.0
    fiscal_space: float = 1.0
    disbursement_lag_months: float = 1.0
    shares: dict[str, float] = field(default_factory=dict)

    def check(self, path: str) -> None:
        """Validate vocabularies and ranges."""
        if self.kind not in FUNDER_KINDS:
            fail(f"{path}.kind", f"unknown kind '{self.kind}'; allowed: {', '.join(FUNDER_KINDS)}")
        check_range(f"{path}.monthly_budget", self.monthly_budget, 0.0)
        check_range(f"{path}.cycle_months", self.cycle_months, 1)
        check_range(f"{path}.renewal_prob", self.renewal_prob, 0.0, 1.0)
        check_range(f"{path}.first_cycle_end", self.first_cycle_end, 0)
        check_range(f"{path}.technical_assistance", self.technical_assistance, 0.0, 1.0)
        check_range(f"{path}.budget_responsiveness", self.budget_responsiveness, 0.0)
        check_range(f"{path}.fiscal_space", self.fiscal_space, 0.0, 1.0)
        check_range(f"{path}.disbursement_lag_months", self.disbursement_lag_months, 1.0)
        if self.kind == "treasury" and self.shares:
            for key, val in self.shares.items():
                check_range(f"{path}.shares.{key}", val, 0.0, 1.0)
            if abs(sum(self.shares.values()) - 1.0) > 1e-6:
                fail(f"{path}.shares", f"shares must sum to 1, got {sum(self.shares.values()):.6g}")


@dataclass(frozen=True)
class SystemParams:
    """National reintegration system: initial building blocks and their dynamics."""

    initial: dict[str, float]
    adjustment_months: float
    learning_months: float
    min_productivity: float
    ta_per_learning_month: float
    referral_success_external: float

    def check(self, path: str) -> None:
        """Validate that every building block is given in [0, 1]."""
        _check_unit_dict(f"{path}.initial", self.initial, BLOCKS)
        missing = [b for b in BLOCKS if b not in self.initial]
        if missing:
            fail(f"{path}.initial.{missing[0]}", "missing (every building block is required)")
        check_range(f"{path}.adjustment_months", self.adjustment_months, 1.0)
        check_range(f"{path}.learning_months", self.learning_months, 1.0)
        check_range(f"{path}.min_productivity", self.min_productivity, 0.0, 1.0)
        check_range(f"{path}.ta_per_learning_month", self.ta_per_learning_month, 1e-9)
        check_range(f"{path}.referral_success_external", self.referral_success_external, 0.0, 1.0)


@dataclass(frozen=True)
class Country:
    """A country profile: arrivals, regions, needs, returnee behaviour, actors, system."""

    name: str
    description: str
    arrivals: Arrivals
    regions: list[Region]
    needs: Needs
    returnees: ReturneeParams
    providers: list[ProviderSpec]
    funders: list[FunderSpec]
    system: SystemParams

    def check(self, path: str) -> None:
        """Validate every part and the references between them."""
        self.arrivals.check(f"{path}.arrivals")
        self.needs.check(f"{path}.needs")
        self.returnees.check(f"{path}.returnees")
        self.system.check(f"{path}.system")
        region_names = [r.name for r in self.regions]
        if not self.regions:
            fail(f"{path}.regions", "at least one region is required")
        for i, region in enumerate(self.regions):
            region.check(f"{path}.regions.{region.name}")
        if abs(sum(r.share for r in self.regions) - 1.0) > 1e-6:
            fail(f"{path}.regions", f"region shares must sum to 1, got {sum(r.share for r in self.regions):.6g}")
        _unique(f"{path}.regions", region_names)
        funder_names = [f.name for f in self.funders]
        _unique(f"{path}.funders", funder_names)
        _unique(f"{path}.providers", [p.name for p in self.providers])
        if [f.kind for f in self.funders].count("treasury") != 1:
            fail(f"{path}.funders", "exactly one funder of kind 'treasury' is required")
        for spec in self.providers:
            p = f"{path}.providers.{spec.name}"
            spec.check(p)
            _check_subset(f"{p}.regions", spec.regions, region_names)
            if spec.funder not in funder_names:
                fail(f"{p}.funder", f"unknown funder '{spec.funder}'; allowed: {', '.join(funder_names)}")
        for spec in self.funders:
            spec.check(f"{path}.funders.{spec.name}")
        treasury = self.treasury
        national = [p.name for p in self.providers if p.funder == treasury.name]
        if sorted(treasury.shares) != sorted(national):
            fail(f"{path}.funders.{treasury.name}.shares",
                  f"must give a share to each treasury-funded provider: {', '.join(national)}")

    @property
    def treasury(self) -> FunderSpec:
        """The national treasury."""
        return next(f for f in self.funders if f.kind == "treasury")


def _unique(path: str, names: list[str]) -> None:
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        fail(path, f"duplicate name '{sorted(dup)[0]}'")


@dataclass(frozen=True)
class RunParams:
    """Everything a run needs except the scenario and the seed."""

    model: ModelSettings
    country: Country

    def check(self) -> None:
        """Validate the whole tree."""
        self.model.check("model")
        self.country.check("country")


def from_dict(cls: type, data: Any, path: str) -> Any:
    """Build dataclass `cls` from a dict, rejecting unknown keys and missing fields."""
    if not isinstance(data, dict):
        fail(path, f"must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        fail(f"{path}.{unknown[0]}", f"unknown key; allowed: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        sub = f"{path}.{name}"
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                fail(sub, "missing required key")
            continue
        kwargs[name] = _convert(hints[name], data[name], sub)
    return cls(**kwargs)


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(hint)):
            return None
        mapping = [a for a in args if typing.get_origin(a) is dict]
        if isinstance(value, dict) and mapping:
            return _convert(mapping[0], value, path)
        return _convert(args[0], value, path)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            fail(path, "must be a list")
        if dataclasses.is_dataclass(item):
            return [from_dict(item, v, f"{path}.{v.get('name', i) if isinstance(v, dict) else i}")
                    for i, v in enumerate(value)]
        return list(value)
    if origin is dict:
        if not isinstance(value, dict):
            fail(path, "must be a mapping")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            fail(path, f"must be true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail(path, f"must be a number, got {value!r}")
        if hint is int and float(value) != int(value):
            fail(path, f"must be a whole number, got {value!r}")
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            fail(path, f"must be text, got {value!r}")
        return value
    return value


def build_params(config: dict[str, Any]) -> RunParams:
    """Validate a run configuration (`{"model": ..., "country": ...}`) into `RunParams`.

    Raises:
        ParameterError: naming the first invalid field and what is allowed.
    """
    model = from_dict(ModelSettings, config.get("model", {}), "model")
    country = from_dict(Country, config.get("country"), "country")
    params = RunParams(model=model, country=country)
    params.check()
    return params
