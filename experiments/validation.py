"""The one validation pass: every configuration a study will run, before anything runs.

Each command composes its settings, builds the full list of jobs it would run (every
scenario, setting, future, factor bound and sample point) without writing anything, and
hands them here. `validate_jobs` checks each distinct run configuration exactly as the
simulator will read it (`sim.build_params`, `scenarios.build_scenario`) plus what the
simulator's own checks cannot see: numbers that are not finite or absurdly large, windows
too short to measure anything, and studies too big for memory. The command-setting
checks (`check_outcomes`, `check_discovery`, executor address...) live here as well, so
that a bad value of any kind exits with status 2 before the first file is written.

Documented limits (docs/guarantees.md):

- every number in a run configuration is finite and |x| <= `MAX_MAGNITUDE`;
- `model.horizon_months` <= `MAX_HORIZON_MONTHS`;
- `model.timely_months` < the handover window (horizon_months - handover_start), else no
  episode of the window could ever be judged covered;
- expected agents (arrivals over the horizon, surges included, / scale) <= `MAX_AGENTS`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from experiments.config import ConfigError

#: Largest magnitude any number of a run configuration may take (USD, persons, months...).
MAX_MAGNITUDE = 1e12
#: Longest horizon a run may simulate (100 years of months).
MAX_HORIZON_MONTHS = 1200
#: Largest expected number of returnee agents in one run (memory: ~100 bytes per agent-area).
MAX_AGENTS = 20_000_000
#: What a Dask scheduler address looks like.
_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss|inproc)://[^\s:/]+(:\d{1,5})?/?")


def check_numbers(node: Any, path: str) -> None:
    """Every number under `node` is finite and within +-`MAX_MAGNITUDE`.

    Raises:
        ConfigError: naming the dotted path of the first offending value.
    """
    if isinstance(node, Mapping):
        for key, value in node.items():
            check_numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            check_numbers(value, f"{path}.{i}")
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"{path}: must be a finite number, got {node}")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        if abs(node) > MAX_MAGNITUDE:
            raise ConfigError(f"{path}: {node:g} is beyond the supported magnitude "
                              f"({MAX_MAGNITUDE:g})")


def check_run_config(config: Mapping[str, Any]) -> None:
    """Validate one run configuration (model/country/scenario) as the simulator reads it.

    Raises:
        ConfigError: naming the field (the simulator's `ParameterError` is converted).
    """
    from scenarios import build_scenario
    from sim import build_params
    from sim.params import ParameterError

    check_numbers(config, "")
    model = config.get("model") or {}
    horizon = model.get("horizon_months")
    if isinstance(horizon, int) and horizon > MAX_HORIZON_MONTHS:
        raise ConfigError(f"model.horizon_months: at most {MAX_HORIZON_MONTHS} months "
                          f"supported, got {horizon}")
    try:
        params = build_params(dict(config))
        name = (config.get("scenario") or {}).get("name", "?")
        build_scenario(config.get("scenario") or {}, params.country, source=f"scenario '{name}'")
    except ParameterError as err:
        raise ConfigError(str(err)) from None
    m = params.model
    window = m.horizon_months - m.handover_start
    if m.timely_months >= max(window, 1):
        raise ConfigError(
            f"model.timely_months: must be shorter than the handover window "
            f"(horizon_months - handover_start = {window}), got {m.timely_months}"
        )
    agents = expected_agents(config, m.horizon_months, m.scale)
    if agents > MAX_AGENTS:
        raise ConfigError(
            f"model.scale: about {agents:,.0f} returnee agents expected (arrivals and surges "
            f"over {m.horizon_months} months at 1:{m.scale}); at most {MAX_AGENTS:,} are "
            "supported: raise model.scale or shorten the horizon"
        )


def expected_agents(config: Mapping[str, Any], horizon: int, scale: int) -> float:
    """Expected returnee agents of a run: mean arrivals x horizon plus surges, / scale."""
    arrivals = (config.get("country") or {}).get("arrivals") or {}
    persons = float(arrivals.get("monthly_mean") or 0.0) * horizon
    for shock in (config.get("scenario") or {}).get("shocks") or []:
        if isinstance(shock, Mapping) and isinstance(shock.get("persons"), (int, float)):
            months = shock.get("months", 1)
            months = months if isinstance(months, (int, float)) and months > 0 else 1
            persons += float(shock["persons"]) * max(1.0, float(months))
    return persons / max(int(scale), 1)


def validate_jobs(jobs: Sequence[Mapping[str, Any]], tags: Sequence[str] = ()) -> int:
    """`validate_runs` over job specs; the message names the job's tags (e.g. its future).

    Raises:
        ConfigError: the first invalid run configuration, naming the field and the job.
    """
    from experiments.study.store import canonical_json

    seen: set[str] = set()
    for spec in jobs:
        key = canonical_json(spec["config"])
        if key in seen:
            continue
        seen.add(key)
        try:
            check_run_config(spec["config"])
        except ConfigError as err:
            where = ", ".join(f"{t}={spec[t]}" for t in tags if t in spec)
            raise ConfigError(f"{err}{f' (in {where})' if where else ''}") from None
    return len(seen)


@functools.lru_cache(maxsize=1)
def outcome_names() -> tuple[str, ...]:
    """Names of the outcomes a simulator run returns (from one tiny run, cached)."""
    from experiments.config import compose, run_config
    from experiments.study.jobs import run_job

    config = run_config(compose("config", ["model.horizon_months=6", "model.handover_start=3",
                                           "model.warmup_months=1", "model.timely_months=1",
                                           "model.scale=1000"]))
    return tuple(sorted(run_job({"config": config, "seed": 0})))


def check_outcomes(names: Any, field: str = "outcomes") -> list[str]:
    """A non-empty list of known outcome names.

    Raises:
        ConfigError: naming unknown ones with close matches and the allowed names.
    """
    import difflib

    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{field}: expected a non-empty list of outcome names, got {names!r}")
    known = outcome_names()
    for name in names:
        if name not in known:
            near = difflib.get_close_matches(name, known, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise ConfigError(f"{field}: unknown outcome '{name}'{hint} allowed: "
                              f"{', '.join(known)}")
    return list(names)


def check_address(address: Any) -> None:
    """A Dask scheduler address such as tcp://host:8786.

    Raises:
        ConfigError: naming `executor.address`.
    """
    if address is not None and (not isinstance(address, str) or not _ADDRESS.fullmatch(address)):
        raise ConfigError(f"executor.address: expected a scheduler URL such as "
                          f"tcp://127.0.0.1:8786, got {address!r}")


#: Stress discovery options: name -> (low, high, integer?, low inclusive?).
DISCOVERY_RANGES = {
    "peel_alpha": (0.0, 0.5, False, False),
    "paste_alpha": (0.0, 0.5, False, True),
    "mass_min": (0.0, 1.0, False, False),
    "min_coverage": (0.0, 1.0, False, False),
    "max_qp": (0.0, 1.0, False, False),
    "max_boxes": (1, 100, True, True),
}


def check_discovery(options: Mapping[str, Any]) -> None:
    """Scenario-discovery (PRIM) options within their documented ranges.

    Raises:
        ConfigError: naming `discovery.<option>` and the allowed range.
    """
    for name, (low, high, integer, closed) in DISCOVERY_RANGES.items():
        if name not in options:
            continue
        v = options[name]
        kind = "an integer" if integer else "a number"
        ok = (isinstance(v, int) if integer else isinstance(v, (int, float)))
        ok = ok and not isinstance(v, bool) and math.isfinite(v) and v <= high
        ok = ok and (v >= low if closed else v > low)
        if not ok:
            bracket = "[" if closed else "("
            raise ConfigError(f"discovery.{name}: must be {kind} in {bracket}{low:g}, {high:g}], "
                              f"got {v!r}")
