"""Schedule primitives: a number (a national share, a funding multiplier) as a function of month.

Each primitive is a small dataclass built from YAML by `kind` (see `SCHEDULES`), with one
method `value(month, model)`. Schedules are asked once per month, in month order; the
readiness trigger keeps state between calls and so must not be shared across scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim.params import check_range, fail, from_dict


@dataclass
class Constant:
    """The same value every month."""

    value: float

    def check(self, path: str) -> None:
        check_range(f"{path}.value", self.value, 0.0)

    def value_at(self, month: int, model: Any = None) -> float:
        return self.value


@dataclass
class Step:
    """`before` until `month` (exclusive), then `after`."""

    month: int
    before: float
    after: float

    def check(self, path: str) -> None:
        check_range(f"{path}.month", self.month, 0)
        check_range(f"{path}.before", self.before, 0.0)
        check_range(f"{path}.after", self.after, 0.0)

    def value_at(self, month: int, model: Any = None) -> float:
        return self.before if month < self.month else self.after


@dataclass
class LinearRamp:
    """`start_value` until `start`, linear to `end_value` at `end`, then `end_value`."""

    start: int
    end: int
    start_value: float = 0.0
    end_value: float = 1.0

    def check(self, path: str) -> None:
        check_range(f"{path}.start", self.start, 0)
        if self.end <= self.start:
            fail(f"{path}.end", f"must be after start ({self.start}), got {self.end}")
        check_range(f"{path}.start_value", self.start_value, 0.0)
        check_range(f"{path}.end_value", self.end_value, 0.0)

    def value_at(self, month: int, model: Any = None) -> float:
        if month <= self.start:
            return self.start_value
        if month >= self.end:
            return self.end_value
        frac = (month - self.start) / (self.end - self.start)
        return self.start_value + frac * (self.end_value - self.start_value)


@dataclass
class CoFinancing:
    """Gavi-like co-financing ramp of the national share, in yearly steps from `start`.

    Year y = floor((month - start) / 12):
      preparatory phase (y < preparatory_years): initial + annual_step x y;
      with h = initial + annual_step x (P - 1) the last preparatory value;
      grace years (P <= y < P + G): held at h;
      accelerated phase-out (y >= P + G): h + (1 - h) x (y - P - G + 1) / phase_out_years,
      reaching 1 after `phase_out_years` years. Before `start`: `initial`.
    """

    start: int
    initial: float = 0.0
    annual_step: float = 0.15
    preparatory_years: int = 3
    grace_years: int = 1
    phase_out_years: int = 5

    def check(self, path: str) -> None:
        check_range(f"{path}.start", self.start, 0)
        check_range(f"{path}.initial", self.initial, 0.0, 1.0)
        check_range(f"{path}.annual_step", self.annual_step, 0.0, 1.0)
        check_range(f"{path}.preparatory_years", self.preparatory_years, 1)
        check_range(f"{path}.grace_years", self.grace_years, 0)
        check_range(f"{path}.phase_out_years", self.phase_out_years, 1)

    def value_at(self, month: int, model: Any = None) -> float:
        if month < self.start:
            return self.initial
        year = (month - self.start) // 12
        hold = min(1.0, self.initial + self.annual_step * (self.preparatory_years - 1))
        if year < self.preparatory_years:
            return min(1.0, self.initial + self.annual_step * year)
        year -= self.preparatory_years + self.grace_years
        if year < 0:
            return hold
        return min(1.0, hold + (1 - hold) * (year + 1) / self.phase_out_years)


@dataclass
class ReadinessTrigger:
    """Hand over only once national readiness has met `threshold` for `months` in a row.

    Readiness is the model's `readiness` (key building blocks and national productivity,
    measured at the end of the previous month). Before firing: `before`. From the month it
    fires (the `months`-th consecutive month at or above the threshold, or `fallback_month`
    if given and reached first): ramps linearly to `after` over `ramp_months` (0 = at once).
    """

    threshold: float
    months: int = 6
    before: float = 0.0
    after: float = 1.0
    ramp_months: int = 0
    fallback_month: int | None = None
    fired_month: int | None = field(default=None, init=False)
    _streak: int = field(default=0, init=False, repr=False)
    _last: int = field(default=-1, init=False, repr=False)

    def check(self, path: str) -> None:
        check_range(f"{path}.threshold", self.threshold, 0.0, 1.0)
        check_range(f"{path}.months", self.months, 1)
        check_range(f"{path}.before", self.before, 0.0)
        check_range(f"{path}.after", self.after, 0.0)
        check_range(f"{path}.ramp_months", self.ramp_months, 0)
        if self.fallback_month is not None:
            check_range(f"{path}.fallback_month", self.fallback_month, 0)

    def observe(self, month: int, readiness: float) -> None:
        """Update the streak with this month's readiness (once per month)."""
        if month <= self._last or self.fired_month is not None:
            return
        self._last = month
        self._streak = self._streak + 1 if readiness >= self.threshold else 0
        if self._streak >= self.months or (self.fallback_month is not None and month >= self.fallback_month):
            self.fired_month = month

    def value_at(self, month: int, model: Any = None) -> float:
        if model is not None:
            self.observe(month, model.readiness)
        if self.fired_month is None or month < self.fired_month:
            return self.before
        if self.ramp_months == 0:
            return self.after
        frac = min(1.0, (month - self.fired_month + 1) / self.ramp_months)
        return self.before + frac * (self.after - self.before)


#: kind -> class
SCHEDULES = {
    "constant": Constant,
    "step": Step,
    "linear_ramp": LinearRamp,
    "co_financing": CoFinancing,
    "readiness_trigger": ReadinessTrigger,
}


def build_schedule(spec: Any, path: str):
    """Build a schedule from `{kind: ..., ...}` (a bare number means constant).

    Raises:
        ParameterError: unknown kind, unknown or missing field, out-of-range value.
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        spec = {"kind": "constant", "value": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        fail(path, f"must be a number or a mapping with 'kind' (one of: {', '.join(SCHEDULES)})")
    kind = spec["kind"]
    if kind not in SCHEDULES:
        fail(f"{path}.kind", f"unknown schedule kind '{kind}'; allowed: {', '.join(SCHEDULES)}")
    fields = {k: v for k, v in spec.items() if k != "kind"}
    sched = from_dict(SCHEDULES[kind], fields, path)
    sched.check(path)
    return sched
