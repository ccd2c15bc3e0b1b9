"""Targets: what the model should reproduce, from the source or stated as assumptions.

`configs/targets/<profile>.yaml`::

    description: one line
    run:                          # how validate/calibrate run the model for these targets
      scenario: status_quo
      overrides: [model.horizon_months=72]
    targets:
      - name: returns_per_year
        statistic: {kind: series, column: arrivals, how: annual_mean}   # statistics.py
        value: 5800
        tolerance: {rel: 0.05}    # or {abs: x}, or {interval: [low, high]} (around value)
        source: "section of the source, or 'assumption'"
        fit: true                 # used by calibrate (default true); validate checks all

A target is met when the simulated mean lies in its acceptance interval: value ± abs,
value × (1 ± rel), or [low, high].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from experiments.calibrate.statistics import check as check_statistic
from experiments.config import CONFIG_DIR, ConfigError

TARGET_DIR = CONFIG_DIR / "targets"
TARGET_KEYS = ("name", "statistic", "value", "tolerance", "source", "fit", "note")


@dataclass(frozen=True)
class Target:
    """One checkable fact: a statistic, its value, acceptance interval and source."""

    name: str
    statistic: dict[str, Any]
    value: float
    low: float
    high: float
    source: str
    fit: bool = True
    note: str = ""

    @property
    def centre(self) -> float:
        """Middle of the acceptance interval (the location the calibration aims at)."""
        return (self.low + self.high) / 2

    @property
    def half_width(self) -> float:
        """Half the acceptance interval (the scale of this target's distance)."""
        return max((self.high - self.low) / 2, 1e-12)

    def met(self, simulated: float) -> bool:
        """True if `simulated` lies in the acceptance interval."""
        return bool(math.isfinite(simulated) and self.low <= simulated <= self.high)


@dataclass(frozen=True)
class TargetSet:
    """The targets of one profile and how to run the model for them."""

    profile: str
    targets: tuple[Target, ...]
    scenario: str
    overrides: tuple[str, ...]
    description: str
    source: str

    @property
    def statistics(self) -> dict[str, dict[str, Any]]:
        """Target name -> statistic mapping (what the job function computes)."""
        return {t.name: t.statistic for t in self.targets}

    def fitted(self) -> tuple[Target, ...]:
        """The targets calibrate fits (fit: true)."""
        return tuple(t for t in self.targets if t.fit)


def target_options() -> list[str]:
    """Profiles with a targets file in configs/targets/."""
    return sorted(p.stem for p in TARGET_DIR.glob("*.yaml"))


def load_targets(name_or_path: str | Path) -> TargetSet:
    """Read and validate a targets file: a profile name or a path to a YAML file.

    Raises:
        ConfigError: unknown profile / missing file, or an invalid field (the message
            names the file and the field).
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) and path.is_file()):
        path = TARGET_DIR / f"{text}.yaml"
    if not path.is_file():
        raise ConfigError(f"target_file: no targets for '{text}'; allowed: {', '.join(target_options())}"
                          " (or a path to a targets YAML file)")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    return parse_targets(data, str(path), path.stem)


def parse_targets(data: Any, source: str, profile: str) -> TargetSet:
    """Validate a targets declaration given as plain data."""
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list) or not data["targets"]:
        raise ConfigError(f"{source}: needs a non-empty top-level 'targets:' list")
    extra = sorted(set(data) - {"targets", "run", "description"})
    if extra:
        raise ConfigError(f"{source}: unknown top-level key '{extra[0]}'; allowed: description, run, targets")
    run = data.get("run") or {}
    if not isinstance(run, dict) or set(run) - {"scenario", "overrides"}:
        raise ConfigError(f"{source}: run: a mapping with scenario and overrides")
    overrides = run.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"{source}: run.overrides: a list of key=value strings")
    targets = [_parse_target(t, f"{source}: targets[{i}]") for i, t in enumerate(data["targets"])]
    names = [t.name for t in targets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{source}: targets: duplicate name '{dup[0]}'")
    return TargetSet(profile, tuple(targets), str(run.get("scenario", "status_quo")),
                     tuple(overrides), str(data.get("description", "")), source)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _parse_target(item: Any, where: str) -> Target:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a target must be a mapping with {', '.join(TARGET_KEYS[:5])}")
    extra = sorted(set(item) - set(TARGET_KEYS))
    if extra:
        raise ConfigError(f"{where}.{extra[0]}: unknown key; allowed: {', '.join(TARGET_KEYS)}")
    for key in ("name", "statistic", "value", "tolerance", "source"):
        if key not in item:
            raise ConfigError(f"{where}.{key}: required")
    name = item["name"]
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name: must be a non-empty name")
    where = f"{where} ({name})"
    value = _number(item["value"], f"{where}.value")
    tol = item["tolerance"]
    if not isinstance(tol, dict) or len(tol) != 1 or next(iter(tol)) not in ("abs", "rel", "interval"):
        raise ConfigError(f"{where}.tolerance: one of {{abs: x}}, {{rel: x}}, {{interval: [low, high]}}")
    kind, spec = next(iter(tol.items()))
    if kind == "interval":
        if not isinstance(spec, list) or len(spec) != 2:
            raise ConfigError(f"{where}.tolerance.interval: must be [low, high]")
        low, high = (_number(v, f"{where}.tolerance.interval") for v in spec)
        if not low <= value <= high or low >= high:
            raise ConfigError(f"{where}.tolerance.interval: need low < high with the value inside, "
                              f"got [{low:g}, {high:g}] for value {value:g}")
    else:
        width = _number(spec, f"{where}.tolerance.{kind}")
        if width <= 0:
            raise ConfigError(f"{where}.tolerance.{kind}: must be > 0, got {width:g}")
        half = width if kind == "abs" else abs(value) * width
        low, high = value - half, value + half
    fit = item.get("fit", True)
    if not isinstance(fit, bool):
        raise ConfigError(f"{where}.fit: must be true or false")
    if not isinstance(item["source"], str) or not item["source"].strip():
        raise ConfigError(f"{where}.source: a section of the source, or 'assumption'")
    return Target(name, check_statistic(item["statistic"], f"{where}.statistic"), value, low, high,
                  item["source"].strip(), fit, str(item.get("note", "")))
