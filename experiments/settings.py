"""One settings object per command, declared as Hydra structured configs.

Each command's YAML file (`configs/<command>.yaml`) holds the default values and their
comments; the dataclass here holds the types. The dataclasses are registered in Hydra's
ConfigStore as `<command>_schema` and head each file's defaults list, so Hydra checks
every override's type while composing (`replications=abc` fails, naming the key).
`load_settings` is the one place where a command's settings are composed and validated
(types by Hydra, ranges and cross-references by `check`), before anything runs or writes.

    cfg, settings = load_settings("compare", ["replications=5"])
    settings.replications  # 5, an int

Multi-scenario commands (compare, sweep, stress) take `scenarios=[a,b,...]`; a single
`scenario=` override is refused by all three with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional, Sequence

from omegaconf import MISSING

from experiments.config import (
    ConfigError,
    compose,
    group_options,
    refuse_single_scenario,
    require_fraction,
    require_int,
    require_scenarios,
    require_seed,
)


@dataclass
class CommonSettings:
    """Keys of `configs/config.yaml`, shared by every command.

    Attributes:
        seed: the study seed (>= 0): one run's seed, or the root of a study's seeds.
        output_dir: where files go; null means outputs/<command>/<UTC timestamp>.
        model: run settings (horizon, scale, ...); validated by `sim.build_params`.
        country: the country profile; validated by `sim.build_params`.
        scenario: the scenario; validated by `scenarios.build_scenario`.
    """

    seed: int = MISSING
    output_dir: Optional[str] = None
    model: Any = MISSING
    country: Any = MISSING
    scenario: Any = MISSING

    def check(self) -> None:
        """Validate ranges and cross-references (types are checked by Hydra).

        Raises:
            ConfigError: naming the field and what is allowed.
        """
        require_seed(vars(self))


@dataclass
class RunSettings(CommonSettings):
    """`handover run`: one scenario, one seed (configs/run.yaml)."""


@dataclass
class CompareSettings(CommonSettings):
    """`handover compare` (configs/compare.yaml).

    Attributes:
        executor: where runs execute (configs/executor/*.yaml).
        scenarios: scenario names; null means the whole library (resolved by `check`).
        replications: R >= 2 replications per scenario.
        reference: paired differences are taken against this scenario (compared even if
            not listed in `scenarios`, then first).
        level: confidence level of every interval, in (0, 1).
        posterior: folder written by `handover calibrate`; replication r uses posterior
            parameter set r in every scenario (null: the profile's parameters).
        assumptions: run/space/only/decisive of the decisive-assumption probe (validated by
            `experiments.compare.assumptions.parse_assumptions`).
    """

    executor: Any = MISSING
    scenarios: Optional[list[str]] = None
    replications: int = MISSING
    reference: str = MISSING
    level: float = MISSING
    posterior: Optional[str] = None
    assumptions: Any = None  # "what would change this ranking" (experiments/compare/assumptions.py)

    def check(self) -> None:
        """Validate; resolve `scenarios` to a list of names."""
        super().check()
        self.scenarios = require_scenarios(vars(self))
        if self.reference not in self.scenarios:
            library = group_options("scenario")
            if self.reference not in library:
                raise ConfigError(
                    f"reference: unknown scenario '{self.reference}'; allowed: {', '.join(library)}"
                )
            self.scenarios = [self.reference, *self.scenarios]  # differences need the reference
        require_int(vars(self), "replications", 2)
        require_fraction(vars(self), "level")


@dataclass
class SweepSettings(CommonSettings):
    """`handover sweep` (configs/sweep.yaml).

    Attributes:
        executor: where runs execute.
        grid: dotted path -> list of values; every combination is run.
        settings: or an explicit list of {dotted path: value} mappings (not both).
        scenarios: scenario names (default in the YAML: [status_quo]).
        replications: R >= 1 runs per setting x scenario.
        level: confidence level of the intervals, in (0, 1).
        outcomes: outcomes drawn against each swept parameter.
        posterior: folder written by `handover calibrate`; replication r uses posterior
            parameter set r in every scenario (null: the profile's parameters).
    """

    executor: Any = MISSING
    grid: Any = None  # Any: OmegaConf cannot merge a mapping into an empty typed dict
    settings: Any = None
    scenarios: Optional[list[str]] = None
    replications: int = MISSING
    level: float = MISSING
    outcomes: list[str] = MISSING
    posterior: Optional[str] = None

    def check(self) -> None:
        """Validate; resolve `scenarios` to a list of names."""
        super().check()
        if self.grid and self.settings:
            raise ConfigError("grid, settings: give one of them, not both")
        if self.grid is not None and not isinstance(self.grid, dict):
            raise ConfigError(f"grid: expected a mapping {{path: [values]}}, got {self.grid!r}")
        if self.settings is not None and not isinstance(self.settings, list):
            raise ConfigError(f"settings: expected a list of mappings, got {self.settings!r}")
        self.scenarios = require_scenarios(vars(self))
        require_int(vars(self), "replications", 1)
        require_fraction(vars(self), "level")
        if not self.outcomes:
            raise ConfigError("outcomes: expected a non-empty list of outcome names")


@dataclass
class SensitivitySettings(CommonSettings):
    """`handover sensitivity` (configs/sensitivity.yaml); see docs/sensitivity.md.

    Attributes:
        executor: where runs execute.
        method: `sobol` or `morris`.
        n: Sobol base samples (a power of two) or Morris trajectories (>= 2).
        space: a space in configs/sa/ or a path to a YAML space (docs/space.md).
        factors: null (every factor) or a list of factor names.
        grouped: one index per declared group.
        replications: runs per sample point (>= 1).
        second_order: Sobol: also S2.
        num_levels: Morris grid levels (>= 2).
        num_resamples: bootstrap resamples (>= 10).
        conf_level: confidence level of the intervals, in (0, 1).
        outcomes: run outcomes analysed.
    """

    executor: Any = MISSING
    method: str = MISSING
    n: int = MISSING
    space: str = MISSING
    factors: Optional[list[str]] = None
    grouped: bool = MISSING
    replications: int = MISSING
    second_order: bool = MISSING
    num_levels: int = MISSING
    num_resamples: int = MISSING
    conf_level: float = MISSING
    outcomes: list[str] = MISSING

    def check(self) -> None:
        """Validate the SA settings."""
        from experiments.sensitivity.analysis import METHODS

        super().check()
        if self.method not in METHODS:
            raise ConfigError(f"method: unknown '{self.method}'; allowed: {', '.join(METHODS)}")
        for key, low in (("n", 2), ("replications", 1), ("num_levels", 2),
                         ("num_resamples", 10)):
            require_int(vars(self), key, low)
        require_fraction(vars(self), "conf_level")
        if not self.outcomes:
            raise ConfigError("outcomes: must be a non-empty list of names")


@dataclass
class StressSettings(CommonSettings):
    """`handover stress` (configs/stress.yaml); see docs/stress.md.

    Attributes:
        executor: where runs execute.
        stress: the uncertainty space (configs/stress/<name>.yaml; docs/space.md).
        scenarios: scenario names; null means the whole library (resolved by `check`).
        futures: K >= 1 futures drawn by Latin hypercube.
        replications: R >= 1 replications per scenario x future.
        sample_seed: seed of the Latin hypercube; null means `seed`.
        thresholds: satisficing thresholds (coverage_target, gap_metric, gap_tolerance).
        criterion: robustness criterion (see docs/stress.md).
        discovery: scenario discovery options (scenario, failure, PRIM settings).
        timeseries_replications: monthly series kept for the first N replications.
        posterior: folder written by `handover calibrate`; replication r uses posterior
            parameter set r in every scenario (null: the profile's parameters).
    """

    executor: Any = MISSING
    stress: Any = MISSING
    scenarios: Optional[list[str]] = None
    futures: int = MISSING
    replications: int = MISSING
    sample_seed: Optional[int] = None
    thresholds: Any = MISSING
    criterion: str = MISSING
    discovery: Any = MISSING
    timeseries_replications: int = MISSING
    posterior: Optional[str] = None

    def check(self) -> None:
        """Validate the generic stress settings (the driver checks thresholds/discovery)."""
        super().check()
        self.scenarios = require_scenarios(vars(self))
        require_int(vars(self), "futures", 1)
        require_int(vars(self), "replications", 1)
        if self.sample_seed is None:
            self.sample_seed = self.seed
        require_int(vars(self), "sample_seed", 0)
        require_int(vars(self), "timeseries_replications", 0)


#: command -> its settings class (the schema registered as `<command>_schema`)
SCHEMAS: dict[str, type[CommonSettings]] = {
    "run": RunSettings,
    "compare": CompareSettings,
    "sweep": SweepSettings,
    "sensitivity": SensitivitySettings,
    "stress": StressSettings,
}
#: commands that run several scenarios (they take `scenarios=[...]`, not `scenario=`)
MULTI_SCENARIO = ("compare", "sweep", "stress")


def register() -> None:
    """Store every schema in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name, cls in SCHEMAS.items():
        store.store(name=f"{name}_schema", node=cls)


def load_settings(
    command: str, overrides: Sequence[str] = ()
) -> tuple[dict[str, Any], CommonSettings]:
    """Compose `configs/<command>.yaml` with overrides and validate it: the one entry point.

    Args:
        command: `run`, `compare`, `sweep`, `sensitivity` or `stress`.
        overrides: Hydra overrides.

    Returns:
        (the composed config as a plain dict, the validated settings object).

    Raises:
        ConfigError: a bad override, type, range or cross-reference, naming the field
            and what is allowed.
    """
    if command in MULTI_SCENARIO:
        refuse_single_scenario(list(overrides), command)
    cfg = compose(command, list(overrides))
    cls = SCHEMAS[command]
    settings = cls(**{f.name: cfg.get(f.name) for f in fields(cls)})
    settings.check()
    if getattr(settings, "executor", None) is not None:
        from experiments.study.executors import parse_executor

        parse_executor(settings.executor)
    return cfg, settings
