"""Declared parameter spaces for sensitivity analysis (`configs/sa/*.yaml`).

A space is a list of factors. Each factor names a dotted path into the run configuration
(`country.…`, `scenario.…`, `model.…`), a distribution with its parameters, and a group.
The SALib `problem` dict is derived from this declaration by `problem_from`, and nowhere
else, so sampling, analysis, the simulator wiring and the reports all read one source.

File format (one mapping per factor; `dist` defaults to `unif`, `group` to the name)::

    description: one line
    factors:
      - name: country.returnees.trust_gov        # dotted path (set_dotted)
        dist: unif                               # unif logunif triang norm truncnorm lognorm
        bounds: [0.2, 0.8]                       # unif, logunif, triang, truncnorm
        group: returnees
      - name: scenario.taper_months
        dist: triang
        bounds: [12, 48]
        mode: 24                                 # triang: most likely value (same units)
        type: int                                # round the sampled value (default float)
      - name: country.providers.ngo.capacity
        apply: scale                             # multiply the base value (default: set)
        dist: norm
        mean: 1.0                                # norm, truncnorm, lognorm (ln-space)
        sd: 0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from experiments.config import CONFIG_DIR, ConfigError, get_dotted, set_dotted

SPACE_DIR = CONFIG_DIR / "sa"

#: distribution -> the keys it needs (besides name/group/type/apply/description)
DIST_KEYS: dict[str, tuple[str, ...]] = {
    "unif": ("bounds",),
    "logunif": ("bounds",),
    "triang": ("bounds", "mode"),
    "norm": ("mean", "sd"),
    "truncnorm": ("bounds", "mean", "sd"),
    "lognorm": ("mean", "sd"),
}
#: distributions whose support is bounded (Morris puts points on the support's edges)
BOUNDED = ("unif", "logunif", "triang", "truncnorm")
COMMON_KEYS = ("name", "dist", "group", "type", "apply", "description")
TYPES = ("float", "int")
APPLY = ("set", "scale")


@dataclass(frozen=True)
class Factor:
    """One uncertain input: where it goes in the run config and how it is distributed.

    Attributes:
        name: dotted path into the run configuration (also the factor's label).
        dist: SALib distribution name, one of `DIST_KEYS`.
        params: distribution parameters in SALib's `bounds` convention for `dist`.
        group: group label (grouped Sobol/Morris); defaults to `name`.
        type: `float`, or `int` to round sampled values before they enter the model.
        apply: `set` writes the value; `scale` multiplies the base config's value by it.
    """

    name: str
    dist: str
    params: tuple[float, ...]
    group: str
    type: str = "float"
    apply: str = "set"
    description: str = ""

    def value(self, x: float, base: Any = None) -> Any:
        """The config value for sampled number `x` (rounded / scaled as declared).

        Args:
            x: the sampled value.
            base: the base config's value at this path (used when `apply == 'scale'`).

        Returns:
            The value to write with `set_dotted`.
        """
        v = float(x) * float(base) if self.apply == "scale" else float(x)
        return int(round(v)) if self.type == "int" else v


@dataclass(frozen=True)
class Space:
    """A named, validated list of factors."""

    name: str
    factors: tuple[Factor, ...]
    description: str = ""
    source: str = field(default="", compare=False)

    @property
    def names(self) -> list[str]:
        """Factor names in declaration order."""
        return [f.name for f in self.factors]

    @property
    def groups(self) -> list[str]:
        """Distinct group labels in order of first appearance."""
        return list(dict.fromkeys(f.group for f in self.factors))

    def subset(self, names: list[str]) -> Space:
        """The space restricted to `names` (order kept as given).

        Raises:
            ConfigError: a name is not a factor of this space.
        """
        by_name = {f.name: f for f in self.factors}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(
                f"factors: unknown factor(s) {', '.join(unknown)} in space '{self.name}'; "
                f"allowed: {', '.join(self.names)}"
            )
        return Space(self.name, tuple(by_name[n] for n in names), self.description, self.source)


def space_options() -> list[str]:
    """Names of the spaces available in `configs/sa/`."""
    return sorted(p.stem for p in SPACE_DIR.glob("*.yaml"))


def load_space(name_or_path: str | Path) -> Space:
    """Read and validate a space: a name in `configs/sa/` or a path to a YAML file.

    Args:
        name_or_path: `default`, or a path such as `tests/data/tiny_space.yaml`.

    Returns:
        The validated `Space`.

    Raises:
        ConfigError: missing file, or an invalid field (the message names file and field).
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.is_file()):
        path = SPACE_DIR / f"{text}.yaml"
    if not path.is_file():
        raise ConfigError(f"space: unknown space '{text}'; allowed: {', '.join(space_options())}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    return parse_space(data, source=str(path), name=path.stem)


def parse_space(data: Any, source: str = "<space>", name: str = "space") -> Space:
    """Validate a space declaration given as plain data (what the YAML file holds).

    Args:
        data: mapping with `factors` (list of factor mappings) and optional `description`.
        source: file name used in error messages.
        name: the space's name.

    Returns:
        The validated `Space`.

    Raises:
        ConfigError: naming `source` and the offending field, with the allowed values.
    """
    if not isinstance(data, dict) or not isinstance(data.get("factors"), list):
        raise ConfigError(f"{source}: needs a top-level 'factors:' list of factor mappings")
    extra = set(data) - {"factors", "description"}
    if extra:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {', '.join(sorted(extra))}; "
            "allowed: factors, description"
        )
    if not data["factors"]:
        raise ConfigError(f"{source}: factors: the list is empty")
    factors = [
        _parse_factor(item, f"{source}: factors[{i}]") for i, item in enumerate(data["factors"])
    ]
    seen: set[str] = set()
    for i, f in enumerate(factors):
        if f.name in seen:
            raise ConfigError(f"{source}: factors[{i}].name: duplicate factor '{f.name}'")
        seen.add(f.name)
    return Space(name, tuple(factors), str(data.get("description", "")), source)


def _parse_factor(item: Any, where: str) -> Factor:
    if not isinstance(item, dict):
        raise ConfigError(f"{where}: a factor must be a mapping with name, dist, ...")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name: required, a dotted path such as country.x.y")
    where = f"{where} ({name})"
    dist = item.get("dist", "unif")
    if dist not in DIST_KEYS:
        raise ConfigError(f"{where}.dist: unknown '{dist}'; allowed: {', '.join(DIST_KEYS)}")
    allowed = set(COMMON_KEYS) | set(DIST_KEYS[dist])
    extra = sorted(set(item) - allowed)
    if extra:
        raise ConfigError(
            f"{where}: key(s) {', '.join(extra)} not used by dist '{dist}'; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    missing = [k for k in DIST_KEYS[dist] if k not in item]
    if missing:
        raise ConfigError(f"{where}: dist '{dist}' needs {', '.join(missing)}")
    for key, options in (("type", TYPES), ("apply", APPLY)):
        if key in item and item[key] not in options:
            raise ConfigError(
                f"{where}.{key}: unknown '{item[key]}'; allowed: {', '.join(options)}"
            )
    return Factor(
        name=name,
        dist=dist,
        params=_salib_params(dist, item, where),
        group=str(item.get("group", name)),
        type=item.get("type", "float"),
        apply=item.get("apply", "set"),
        description=str(item.get("description", "")),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    return float(value)


def _salib_params(dist: str, item: dict, where: str) -> tuple[float, ...]:
    """Distribution parameters in SALib's `bounds` convention, checked."""
    low = high = 0.0
    if "bounds" in DIST_KEYS[dist]:
        b = item["bounds"]
        if not isinstance(b, (list, tuple)) or len(b) != 2:
            raise ConfigError(f"{where}.bounds: must be [low, high], got {b!r}")
        low, high = (_number(v, f"{where}.bounds") for v in b)
        if low >= high:
            raise ConfigError(f"{where}.bounds: low ({low:g}) must be < high ({high:g})")
    if dist == "unif":
        return (low, high)
    if dist == "logunif":
        if low <= 0:
            raise ConfigError(f"{where}.bounds: logunif needs low > 0, got {low:g}")
        return (low, high)
    if dist == "triang":
        mode = _number(item["mode"], f"{where}.mode")
        if not low <= mode < high:
            raise ConfigError(f"{where}.mode: must lie in [{low:g}, {high:g}), got {mode:g}")
        return (low, high, (mode - low) / (high - low))
    mean = _number(item["mean"], f"{where}.mean")
    sd = _number(item["sd"], f"{where}.sd")
    if sd <= 0:
        raise ConfigError(f"{where}.sd: must be > 0, got {sd:g}")
    if dist == "truncnorm":
        return (low, high, mean, sd)
    return (mean, sd)  # norm, lognorm (ln-space mean and sd)


def problem_from(space: Space, grouped: bool = False) -> dict[str, Any]:
    """The SALib problem dict of a space (the only place it is built).

    Args:
        space: the validated space.
        grouped: add SALib `groups` (one label per factor) so that Sobol/Morris report
            one index per group.

    Returns:
        `{"num_vars", "names", "bounds", "dists"[, "groups"]}` as SALib expects.

    Raises:
        ConfigError: `grouped` with a single group (nothing to apportion).
    """
    problem: dict[str, Any] = {
        "num_vars": len(space.factors),
        "names": space.names,
        "bounds": [list(f.params) for f in space.factors],
        "dists": [f.dist for f in space.factors],
    }
    if grouped:
        if len(space.groups) < 2:
            raise ConfigError(
                f"grouped: space '{space.name}' declares {len(space.groups)} group; need >= 2 "
                "(add 'group:' to the factors, or set grouped=false)"
            )
        problem["groups"] = [f.group for f in space.factors]
    return problem


def check_paths(space: Space, run_config: dict[str, Any]) -> None:
    """Check that every factor path exists in `run_config` (and `scale` targets are numbers).

    Raises:
        ConfigError: naming the space file, the factor and the missing key.
    """
    for f in space.factors:
        try:
            base = get_dotted(run_config, f.name)
            set_dotted(run_config, f.name, base)
        except ConfigError as err:
            raise ConfigError(f"{space.source or space.name}: factor {err}") from None
        if f.apply == "scale" and (isinstance(base, bool) or not isinstance(base, (int, float))):
            raise ConfigError(
                f"{space.source or space.name}: factor {f.name}: apply=scale needs a number "
                f"at this path, found {base!r}"
            )


def apply_row(run_config: dict[str, Any], space: Space, row: Any) -> dict[str, Any]:
    """A new run configuration with one sample row's values written at the factor paths.

    Only the mappings and lists along the factor paths are copied; everything else is
    shared with `run_config` (thousands of sample points stay cheap in memory and time).
    Treat the result, like `run_config`, as read-only. Paths are assumed to exist (see
    `check_paths`).

    Args:
        run_config: the base run configuration (model/country/scenario).
        space: the factors, in the column order of `row`.
        row: sampled values, one per factor.

    Returns:
        The new run configuration.
    """
    out = dict(run_config)
    copied: set[int] = {id(out)}
    for f, x in zip(space.factors, row, strict=True):
        base = get_dotted(run_config, f.name) if f.apply == "scale" else None
        _set_shared(out, f.name.split("."), f.value(x, base), copied)
    return out


def _set_shared(root: Any, parts: list[str], value: Any, copied: set[int]) -> None:
    """Set a dotted path in `root`, copying (once) each container on the way down."""
    node = root
    for i, part in enumerate(parts):
        key: Any = part
        if isinstance(node, list):
            names = [it.get("name") if isinstance(it, dict) else None for it in node]
            key = int(part) if part.isdigit() and int(part) < len(node) else names.index(part)
        if i == len(parts) - 1:
            node[key] = value
            return
        child = node[key]
        if id(child) not in copied:
            child = dict(child) if isinstance(child, dict) else list(child)
            copied.add(id(child))
            node[key] = child
        node = child
