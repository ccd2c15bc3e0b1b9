"""A handover scenario: schedules per segment x profile, donor path, budget rule, safety
net, exit plan and shocks, built from YAML data (`configs/scenario/*.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scenarios.schedules import build_schedule
from scenarios.shocks import build_shock
from sim.domain import AREAS, PROFILES, SEGMENTS, STAGES
from sim.params import Country, ParameterError, check_range, fail

#: Shortcuts usable in `segments:` lists.
SEGMENT_GROUPS = {"all": list(SEGMENTS), "stages": list(STAGES), "areas": list(AREAS)}
_KEYS = ("name", "description", "national_share", "donor_funding", "donor_follows_share",
         "renew_cycles", "national_takeover", "matching_condition", "technical_assistance",
         "exit_plan", "safety_net", "shocks")
_SAFETY_NET_KEYS = ("profiles", "areas", "wait_months", "start", "until")


class ScenarioError(ParameterError):
    """An invalid scenario; the message names the scenario (file) and the field."""


@dataclass
class Scenario:
    """The handover plan the model follows. `apply(model, month)` is step 1 of the model."""

    name: str
    description: str
    cells: list[list[Any]]  # [profile][segment] -> schedule
    donor_funding: Any
    technical_assistance: Any = None
    donor_follows_share: bool = False
    renew_cycles: bool = False  # every donor project cycle is renewed (no lapse by chance)
    national_takeover: float = 0.0
    matching_condition: bool = False
    exit_plan: bool = False
    safety_net: dict[str, Any] | None = None
    shocks: list[Any] = field(default_factory=list)

    def shares_at(self, month: int, model: Any = None) -> np.ndarray:
        """National share per (profile, segment) at `month`; each schedule is asked once."""
        values: dict[int, float] = {}
        out = np.zeros((len(PROFILES), len(SEGMENTS)))
        for i, row in enumerate(self.cells):
            for j, sched in enumerate(row):
                if id(sched) not in values:
                    values[id(sched)] = sched.value_at(month, model)
                out[i, j] = min(1.0, values[id(sched)])
        return out

    def apply(self, model: Any, month: int) -> None:
        """Set shares and the donor factor for `month`, then apply the shocks."""
        model.shares = self.shares_at(month, model)
        model.donor_factor = self.donor_funding.value_at(month, model)
        model.ta_extra = self.technical_assistance.value_at(month, model) if self.technical_assistance else 0.0
        model.reset_modifiers()
        for shock in self.shocks:
            shock.apply(model, month)


def build_scenario(spec: dict[str, Any], country: Country, source: str = "scenario") -> Scenario:
    """Validate scenario data and build a fresh `Scenario` (fresh trigger state).

    Args:
        spec: the scenario mapping (e.g. a loaded `configs/scenario/<name>.yaml`).
        country: the country profile, for checking names of funders, regions, providers.
        source: where the data came from (file name), used in error messages.

    Raises:
        ScenarioError: naming `source` and the field.
    """
    try:
        return _build(spec, country)
    except ParameterError as err:
        raise ScenarioError(f"{source}: {err}") from None


def _build(spec: dict[str, Any], country: Country) -> Scenario:
    if not isinstance(spec, dict):
        fail("scenario", "must be a mapping")
    unknown = sorted(set(spec) - set(_KEYS))
    if unknown:
        fail(unknown[0], f"unknown key; allowed: {', '.join(_KEYS)}")
    for key in ("name", "national_share"):
        if key not in spec:
            fail(key, "missing required key")
    share = spec["national_share"]
    if not isinstance(share, dict) or "default" not in share:
        fail("national_share", "must be a mapping with 'default' (a schedule) and optional 'overrides'")
    extra = sorted(set(share) - {"default", "overrides"})
    if extra:
        fail(f"national_share.{extra[0]}", "unknown key; allowed: default, overrides")
    default = build_schedule(share["default"], "national_share.default")
    cells = [[default] * len(SEGMENTS) for _ in PROFILES]
    for i, item in enumerate(share.get("overrides") or []):
        path = f"national_share.overrides.{i}"
        if not isinstance(item, dict) or "schedule" not in item:
            fail(path, "must be a mapping with 'segments', optional 'profiles', and 'schedule'")
        bad = sorted(set(item) - {"segments", "profiles", "schedule"})
        if bad:
            fail(f"{path}.{bad[0]}", "unknown key; allowed: segments, profiles, schedule")
        segments = _expand(item.get("segments", ["all"]), f"{path}.segments")
        profiles = item.get("profiles", list(PROFILES))
        for p in profiles:
            if p not in PROFILES:
                fail(f"{path}.profiles", f"unknown profile '{p}'; allowed: {', '.join(PROFILES)}")
        sched = build_schedule(item["schedule"], f"{path}.schedule")
        for p in profiles:
            for s in segments:
                cells[PROFILES.index(p)][SEGMENTS.index(s)] = sched
    donor = build_schedule(spec.get("donor_funding", 1.0), "donor_funding")
    ta = build_schedule(spec.get("technical_assistance", 0.0), "technical_assistance")
    for key in ("donor_follows_share", "renew_cycles", "matching_condition", "exit_plan"):
        if not isinstance(spec.get(key, False), bool):
            fail(key, f"must be true or false, got {spec[key]!r}")
    takeover = spec.get("national_takeover", 0.0)
    check_range("national_takeover", takeover, 0.0)
    names = {
        "funders": [f.name for f in country.funders],
        "regions": [r.name for r in country.regions],
        "providers": [p.name for p in country.providers],
    }
    shocks = [build_shock(s, f"shocks.{i}", names) for i, s in enumerate(spec.get("shocks") or [])]
    return Scenario(
        name=str(spec["name"]),
        description=str(spec.get("description", "")),
        cells=cells,
        donor_funding=donor,
        technical_assistance=ta,
        donor_follows_share=spec.get("donor_follows_share", False),
        renew_cycles=spec.get("renew_cycles", False),
        national_takeover=float(takeover),
        matching_condition=spec.get("matching_condition", False),
        exit_plan=spec.get("exit_plan", False),
        safety_net=_safety_net(spec.get("safety_net")),
        shocks=shocks,
    )


def _expand(segments: Any, path: str) -> list[str]:
    if not isinstance(segments, list) or not segments:
        fail(path, f"must be a non-empty list of segments ({', '.join(SEGMENTS)}) or all/stages/areas")
    out: list[str] = []
    for s in segments:
        if s in SEGMENT_GROUPS:
            out += SEGMENT_GROUPS[s]
        elif s in SEGMENTS:
            out.append(s)
        else:
            allowed = ", ".join(list(SEGMENTS) + list(SEGMENT_GROUPS))
            fail(path, f"unknown segment '{s}'; allowed: {allowed}")
    return out


def _safety_net(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        fail("safety_net", f"must be null or a mapping with {', '.join(_SAFETY_NET_KEYS)}")
    bad = sorted(set(spec) - set(_SAFETY_NET_KEYS))
    if bad:
        fail(f"safety_net.{bad[0]}", f"unknown key; allowed: {', '.join(_SAFETY_NET_KEYS)}")
    profiles = spec.get("profiles", list(PROFILES))
    for p in profiles:
        if p not in PROFILES:
            fail("safety_net.profiles", f"unknown profile '{p}'; allowed: {', '.join(PROFILES)}")
    areas = _expand(spec.get("areas", ["areas"]), "safety_net.areas")
    for a in areas:
        if a not in AREAS:
            fail("safety_net.areas", f"'{a}' is a stage; allowed: {', '.join(AREAS)}")
    wait = spec.get("wait_months", 1)
    check_range("safety_net.wait_months", wait, 0)
    start = spec.get("start", 0)
    check_range("safety_net.start", start, 0)
    until = spec.get("until")
    if until is not None:
        check_range("safety_net.until", until, start)
    return {"profiles": list(profiles), "areas": areas, "wait_months": int(wait), "start": int(start),
            "until": until}
