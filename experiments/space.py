"""The one declaration of uncertain inputs: `Factor`, `Space`, and `apply_values`.

Every study that varies inputs writes them here, in one format, on the model of EMA
Workbench's parameters: sensitivity spaces (`configs/sa/*.yaml`), stress spaces
(`configs/stress/*.yaml`), sweep grids (built from `grid=` / `settings=`) and calibration
priors. A factor is a dotted path into the run configuration plus what is known about
the value there: kind, range or distribution, unit, group, description and source.
`apply_values` is the only function that writes factor values into a run configuration.

File format (one mapping per factor; only `path` and the range are required)::

    name: default                 # optional; defaults to the file's stem
    description: one line
    shocks:                       # optional: shocks added to every scenario's
      - {name: funding_cut, kind: funding_cut, funder: all_donors, size: 0.0, start: 36}
    factors:                      #   scenario.shocks (factors address them by name)
      - path: country.returnees.trust_gov      # dotted path (list items by index or name)
        name: trust_gov                         # short column name (default: the path)
        kind: real                              # real (default) | integer | categorical
        dist: unif                              # unif (default) logunif triang norm
        bounds: [0.2, 0.8]                      #   truncnorm lognorm (SALib's names)
        unit: share                             # share (shown as %), month, USD, ...
        group: returnees                        # grouped Sobol/Morris (default: name)
        description: mean trust in government   # plain words, used in reports
        source: assumption                      # where the range comes from
      - path: scenario.taper_months
        kind: integer
        dist: triang
        bounds: [12, 48]
        mode: 24                                # triang: most likely value
      - path: country.providers.ngo.capacity
        apply: scale                            # multiply the base value (default: set)
        dist: norm
        mean: 1.0                               # norm, truncnorm, lognorm (ln-space)
        sd: 0.1
      - path: scenario.donor.path
        kind: categorical
        categories: [keep, taper, exit]         # any YAML values

Values and samplers:

- A factor's *value* is what goes into the configuration: a number (rounded for
  `integer`), a category, or, for `apply: scale`, the multiplier of the base value (the
  product is rounded for `integer`).
- SALib (sensitivity) samples numbers from `problem_from(space)`; `Space.from_sample`
  turns a sample row into values (integers rounded, categories picked by index).
- Latin hypercubes (stress futures, calibration draws) give unit numbers in [0, 1);
  `Space.ppf` turns them into values (integers uniform over low..high, categories
  equally likely).
- Sweeps list values explicitly: `grid_space` declares each swept path as a categorical
  factor whose categories are the listed values, and `Space.grid` expands them.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from experiments.config import CONFIG_DIR, ConfigError, get_dotted

SPACE_DIR = CONFIG_DIR / "sa"

KINDS = ("real", "integer", "categorical")
#: distribution -> the keys it needs (SALib's names and parameter conventions)
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
APPLY = ("set", "scale")
#: the keys a factor mapping may have
FACTOR_KEYS = ("path", "name", "kind", "dist", "bounds", "mode", "mean", "sd", "categories",
               "apply", "group", "unit", "description", "source")
SPACE_KEYS = ("name", "description", "shocks", "factors")
ROOTS = ("model", "country", "scenario")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class Factor:
    """One uncertain input: where it goes in the run configuration and what it may be.

    Construction validates every field (a `ConfigError` names the field and the allowed
    values), so a factor built in code is as checked as one read from YAML.

    Attributes:
        path: dotted path into the run configuration, starting with model, country or
            scenario (list items by index or by `name`).
        name: short identifier (a column of sample tables); defaults to `path`.
        kind: `real`, `integer` or `categorical`.
        dist: SALib distribution of real and integer factors, one of `DIST_KEYS`.
        bounds: (low, high) for unif, logunif, triang, truncnorm.
        mode: most likely value of `triang` (same units as the bounds).
        mean: mean of norm / truncnorm; ln-space mean of lognorm.
        sd: standard deviation (ln-space for lognorm).
        categories: the values a categorical factor takes (equally likely).
        apply: `set` writes the value; `scale` multiplies the base value by it.
        group: group label (grouped Sobol/Morris); defaults to `name`.
        unit: unit word for reports (`share` is shown as %, `month`, `USD`, ...).
        description: plain-language description ("the donor funding cut").
        source: where the range comes from (a reference, or "assumption").
    """

    path: str
    name: str = ""
    kind: str = "real"
    dist: str = "unif"
    bounds: tuple[float, float] | None = None
    mode: float | None = None
    mean: float | None = None
    sd: float | None = None
    categories: tuple[Any, ...] = ()
    apply: str = "set"
    group: str = ""
    unit: str | None = None
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        try:
            _check_factor(self)
        except _Invalid as err:
            raise err.at(f"factor {self.name or self.path}") from err
        if not self.name:
            object.__setattr__(self, "name", self.path)
        if not self.group:
            object.__setattr__(self, "group", self.name)

    # ------------------------------------------------------------------ SALib view

    @property
    def salib_dist(self) -> str:
        """SALib distribution name (categorical: uniform over category indices)."""
        return "unif" if self.kind == "categorical" else self.dist

    @property
    def salib_params(self) -> tuple[float, ...]:
        """Distribution parameters in SALib's `bounds` convention for `salib_dist`."""
        if self.kind == "categorical":
            return (0.0, float(len(self.categories)))
        low, high = self.bounds or (0.0, 0.0)
        if self.dist in ("unif", "logunif"):
            return (low, high)
        if self.dist == "triang":
            return (low, high, (self.mode - low) / (high - low))
        if self.dist == "truncnorm":
            return (low, high, self.mean, self.sd)
        return (self.mean, self.sd)  # norm, lognorm

    def from_sample(self, x: float) -> Any:
        """The factor's value for a number sampled from its SALib distribution."""
        if self.kind == "categorical":
            return self.categories[min(len(self.categories) - 1, max(0, int(math.floor(x))))]
        if self.kind == "integer" and self.apply == "set":
            return int(round(float(x)))
        return float(x)

    # ------------------------------------------------------------------ unit-cube view

    def ppf(self, u: float) -> Any:
        """The factor's value at quantile `u` in [0, 1) (Latin hypercube and other designs).

        Integers with `unif` are uniform over low..high (each whole number equally likely);
        categories are equally likely; other distributions use their quantile function.
        """
        u = float(u)
        if self.kind == "categorical":
            n = len(self.categories)
            return self.categories[min(n - 1, int(math.floor(u * n)))]
        if self.dist == "unif":
            low, high = self.bounds
            if self.kind == "integer" and self.apply == "set":
                lo, hi = int(round(low)), int(round(high))
                return int(min(hi, lo + math.floor(u * (hi - lo + 1))))
            return float(low + u * (high - low))
        return self.from_sample(float(self._scipy().ppf(u)))

    def _scipy(self) -> Any:
        from scipy import stats

        if self.dist == "logunif":
            return stats.loguniform(*self.bounds)
        if self.dist == "triang":
            low, high = self.bounds
            return stats.triang((self.mode - low) / (high - low), loc=low, scale=high - low)
        if self.dist == "norm":
            return stats.norm(self.mean, self.sd)
        if self.dist == "truncnorm":
            low, high = self.bounds
            return stats.truncnorm((low - self.mean) / self.sd, (high - self.mean) / self.sd,
                                   loc=self.mean, scale=self.sd)
        return stats.lognorm(self.sd, scale=math.exp(self.mean))  # lognorm

    def as_dict(self) -> dict[str, Any]:
        """The declaration as plain data (the YAML keys; unset ones left out)."""
        out = {k: v for k, v in asdict(self).items() if v not in (None, "", ())}
        for key in ("bounds", "categories"):
            if key in out:
                out[key] = list(out[key])
        return out


@dataclass(frozen=True)
class Space:
    """A named, validated list of factors (and the shocks some of them address).

    Attributes:
        name: the space's name (file stem, or the `name` key).
        factors: the factors, in declaration order (the column order of samples).
        description: one line.
        shocks: shock entries added to every scenario's `scenario.shocks` (replacing a
            shock of the same `name`) before the factors are applied, so that factors
            can address them as `scenario.shocks.<name>.<field>`.
        source: the file it was read from (used in error messages).
    """

    name: str
    factors: tuple[Factor, ...]
    description: str = ""
    shocks: tuple[dict[str, Any], ...] = ()
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        names = [f.name for f in self.factors]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"{self.where}: factors: duplicate factor name(s) {', '.join(dupes)}")
        for i, s in enumerate(self.shocks):
            if not isinstance(s, Mapping) or not isinstance(s.get("name"), str):
                raise ConfigError(f"{self.where}: shocks[{i}]: a mapping with a 'name'")

    @property
    def where(self) -> str:
        """How error messages name this space."""
        return self.source or self.name

    @property
    def names(self) -> list[str]:
        """Factor names in declaration order."""
        return [f.name for f in self.factors]

    @property
    def groups(self) -> list[str]:
        """Distinct group labels in order of first appearance."""
        return list(dict.fromkeys(f.group for f in self.factors))

    def subset(self, names: Sequence[str]) -> Space:
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
        return replace(self, factors=tuple(by_name[n] for n in names))

    def labels(self) -> dict[str, dict[str, Any]]:
        """Factor name -> {"label", "unit"} for plain-language text."""
        return {f.name: {"label": f.description or f.name, "unit": f.unit}
                for f in self.factors}

    def from_sample(self, row: Sequence[float]) -> dict[str, Any]:
        """Factor values of one SALib sample row (columns in factor order)."""
        return {f.name: f.from_sample(x) for f, x in zip(self.factors, row, strict=True)}

    def ppf(self, unit: Any) -> list[dict[str, Any]]:
        """Factor values of the rows of a unit-cube design (shape rows x factors)."""
        return [{f.name: f.ppf(u) for f, u in zip(self.factors, row, strict=True)}
                for row in unit]

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the categories of an all-categorical space.

        The first factor varies slowest. A space without factors has one empty setting.

        Raises:
            ConfigError: a factor is not categorical.
        """
        other = [f.name for f in self.factors if f.kind != "categorical"]
        if other:
            raise ConfigError(f"grid: factor(s) {', '.join(other)} are not categorical")
        return [dict(zip(self.names, combo))
                for combo in itertools.product(*(f.categories for f in self.factors))]


# --------------------------------------------------------------------------- validation


class _Invalid(ConfigError):
    """A factor field error: `field` (may be empty) and `detail`."""

    def __init__(self, field_name: str, detail: str):
        super().__init__(f"{field_name}: {detail}" if field_name else detail)
        self.field_name, self.detail = field_name, detail

    def at(self, where: str) -> ConfigError:
        """The error located at `where` (e.g. "space.yaml: factors[2] (x)")."""
        sep = f".{self.field_name}: " if self.field_name else ": "
        return ConfigError(f"{where}{sep}{self.detail}")


def _check_factor(f: Factor) -> None:
    """Validate a factor's fields (called on construction)."""
    if not isinstance(f.path, str) or not f.path.strip():
        raise _Invalid("path", "required, a dotted path such as country.x.y")
    if "." not in f.path or f.path.split(".")[0] not in ROOTS:
        raise _Invalid("path", f"must be a dotted path starting with {', '.join(ROOTS)}, "
                               f"got {f.path!r}")
    if f.name and not _NAME.fullmatch(f.name):
        raise _Invalid("name", f"expected an identifier or dotted path, got {f.name!r}")
    if f.kind not in KINDS:
        raise _Invalid("kind", f"unknown '{f.kind}'; allowed: {', '.join(KINDS)}")
    if f.apply not in APPLY:
        raise _Invalid("apply", f"unknown '{f.apply}'; allowed: {', '.join(APPLY)}")
    if f.kind == "categorical":
        if not isinstance(f.categories, tuple) or not f.categories:
            raise _Invalid("categories", "a categorical factor needs a non-empty list")
        if f.apply != "set":
            raise _Invalid("apply", "a categorical factor can only be set")
        return
    if f.categories:
        raise _Invalid("categories", "only for kind categorical")
    if f.dist not in DIST_KEYS:
        raise _Invalid("dist", f"unknown '{f.dist}'; allowed: {', '.join(DIST_KEYS)}")
    given = {k for k in ("bounds", "mode", "mean", "sd") if getattr(f, k) is not None}
    needed = set(DIST_KEYS[f.dist])
    if needed - given:
        raise _Invalid("", f"dist '{f.dist}' needs {', '.join(sorted(needed - given))}")
    if given - needed:
        raise _Invalid("", f"key(s) {', '.join(sorted(given - needed))} not used by dist "
                           f"'{f.dist}'; it needs {', '.join(DIST_KEYS[f.dist])}")
    if f.bounds is not None:
        b = f.bounds
        if not isinstance(b, tuple) or len(b) != 2:
            raise _Invalid("bounds", f"must be [low, high], got {b!r}")
        low, high = (_number(v, "bounds") for v in b)
        if low >= high:
            raise _Invalid("bounds", f"low ({low:g}) must be < high ({high:g})")
        if f.dist == "logunif" and low <= 0:
            raise _Invalid("bounds", f"logunif needs low > 0, got {low:g}")
        if f.dist == "triang":
            mode = _number(f.mode, "mode")
            if not low <= mode < high:
                raise _Invalid("mode", f"must lie in [{low:g}, {high:g}), got {mode:g}")
    if f.sd is not None:
        _number(f.mean, "mean")
        if _number(f.sd, "sd") <= 0:
            raise _Invalid("sd", f"must be > 0, got {f.sd:g}")


def _number(value: Any, field_name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Invalid(field_name, f"must be a finite number, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------- reading


def space_options(folder: Path = SPACE_DIR) -> list[str]:
    """Names of the spaces available in a folder (default `configs/sa/`)."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_space(name_or_path: str | Path, folder: Path = SPACE_DIR) -> Space:
    """Read and validate a space: a name in `folder` or a path to a YAML file.

    Args:
        name_or_path: `default`, or a path such as `tests/data/tiny_space.yaml`.
        folder: where names are looked up (default `configs/sa/`).

    Returns:
        The validated `Space`.

    Raises:
        ConfigError: missing file, or an invalid field (the message names file and field).
    """
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith((".yaml", ".yml")) or path.is_file()):
        path = folder / f"{text}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"space: unknown space '{text}'; allowed: {', '.join(space_options(folder))}"
        )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    return parse_space(data, source=str(path), name=path.stem)


def parse_space(data: Any, source: str = "<space>", name: str = "space") -> Space:
    """Validate a space declaration given as plain data (a YAML file or a config node).

    Args:
        data: mapping with `factors` (list of factor mappings) and optional `name`,
            `description` and `shocks`.
        source: file or config key used in error messages.
        name: the space's name when `data` has no `name`.

    Returns:
        The validated `Space`.

    Raises:
        ConfigError: naming `source` and the offending field, with the allowed values.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("factors"), list):
        raise ConfigError(f"{source}: needs a top-level 'factors:' list of factor mappings")
    extra = sorted(set(data) - set(SPACE_KEYS))
    if extra:
        raise ConfigError(
            f"{source}: unknown top-level key(s) {', '.join(extra)}; "
            f"allowed: {', '.join(SPACE_KEYS)}"
        )
    if not data["factors"]:
        raise ConfigError(f"{source}: factors: the list is empty")
    factors = tuple(
        parse_factor(item, f"{source}: factors[{i}]") for i, item in enumerate(data["factors"])
    )
    shocks = data.get("shocks") or []
    if not isinstance(shocks, list):
        raise ConfigError(f"{source}: shocks: expected a list of shock mappings, each with a name")
    return Space(
        name=str(data.get("name") or name),
        factors=factors,
        description=str(data.get("description") or ""),
        shocks=tuple(dict(s) if isinstance(s, Mapping) else s for s in shocks),
        source=source,
    )


def parse_factor(item: Any, where: str = "factor") -> Factor:
    """Validate one factor mapping (the keys in `FACTOR_KEYS`) into a `Factor`.

    Raises:
        ConfigError: "<where>: <field>: ..." naming the field and the allowed values.
    """
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: a factor must be a mapping with path, bounds, ...")
    extra = sorted(set(item) - set(FACTOR_KEYS))
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}; allowed: {', '.join(FACTOR_KEYS)}"
        )
    kwargs = dict(item)
    if not isinstance(kwargs.get("path"), str) or not kwargs["path"].strip():
        raise ConfigError(f"{where}.path: required, a dotted path such as country.x.y")
    where = f"{where} ({kwargs.get('name') or kwargs['path']})"
    for key in ("bounds", "categories"):
        if isinstance(kwargs.get(key), list):
            kwargs[key] = tuple(kwargs[key])
    for key in ("name", "group", "description", "source"):
        if kwargs.get(key) is not None:
            kwargs[key] = str(kwargs[key])
    try:
        return Factor(**kwargs)
    except ConfigError as err:
        if isinstance(err.__cause__, _Invalid):
            raise err.__cause__.at(where) from None
        raise


def grid_space(grid: Mapping[str, Sequence[Any]], name: str = "grid") -> Space:
    """A sweep grid (dotted path -> list of values) as a space of categorical factors.

    Raises:
        ConfigError: a value list is empty or not a list, or a path is malformed.
    """
    factors = []
    for path, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ConfigError(f"grid.{path}: expected a non-empty list of values, got {values!r}")
        factors.append(parse_factor({"path": path, "kind": "categorical",
                                     "categories": list(values)}, f"grid.{path}"))
    return Space(name, tuple(factors))


# --------------------------------------------------------------------------- SALib


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
        "bounds": [list(f.salib_params) for f in space.factors],
        "dists": [f.salib_dist for f in space.factors],
    }
    if grouped:
        if len(space.groups) < 2:
            raise ConfigError(
                f"grouped: space '{space.name}' declares {len(space.groups)} group; need >= 2 "
                "(add 'group:' to the factors, or set grouped=false)"
            )
        problem["groups"] = [f.group for f in space.factors]
    return problem


# --------------------------------------------------------------------------- applying


def check_paths(space: Space, run_config: Mapping[str, Any]) -> None:
    """Check that every factor path exists in `run_config` (and `scale` targets are numbers).

    The space's shocks are added first, so paths into them are found.

    Raises:
        ConfigError: naming the space, the factor and the missing key.
    """
    cfg = _with_shocks(run_config, space, set())
    for f in space.factors:
        try:
            base = get_dotted(cfg, f.path)
        except ConfigError as err:
            raise ConfigError(f"{space.where}: factor {f.name}: {err}") from None
        if f.apply == "scale" and not _is_number(base):
            raise ConfigError(
                f"{space.where}: factor {f.name}: apply=scale needs a number at this path, "
                f"found {base!r}"
            )


def apply_values(
    run_config: Mapping[str, Any], space: Space, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A new run configuration with the space's shocks added and every factor's value set.

    This is the one function that writes factor values into a configuration. Steps: the
    space's shocks are added to `scenario.shocks` (replacing shocks of the same name);
    each factor's value is written at its path (`scale`: the base value times the value,
    rounded for `integer`); the `name` keys of the added shocks are dropped (they only
    serve addressing; the simulator's shocks have none). A value must be of the same
    kind as the one it replaces (number for number, string for string; null is free).

    Only the mappings and lists along the written paths are copied; everything else is
    shared with `run_config` (thousands of sample points stay cheap), so treat both as
    read-only.

    Args:
        run_config: the base run configuration (model/country/scenario).
        space: the factors (and shocks).
        values: factor name -> value, for every factor of the space.

    Returns:
        The new run configuration.

    Raises:
        ConfigError: an unknown path, a missing value, or a value of the wrong kind.
    """
    copied: set[int] = set()
    cfg = _with_shocks(run_config, space, copied)
    for f in space.factors:
        if f.name not in values:
            raise ConfigError(f"{space.where}: no value for factor {f.name}")
        old = get_dotted(cfg, f.path)
        v = values[f.name]
        if f.apply == "scale":
            if not _is_number(old):
                raise ConfigError(f"{f.path}: apply=scale needs a number, found {old!r}")
            v = old * float(v)
            v = int(round(v)) if f.kind == "integer" else v
        elif f.kind == "integer":
            v = int(v)
        elif f.kind == "real":
            v = float(v)
        if old is not None and v is not None and _value_kind(old) != _value_kind(v):
            raise ConfigError(
                f"{f.path}: expected {_value_kind(old)} like the current value {old!r}, got {v!r}"
            )
        _set_shared(cfg, f.path.split("."), v, copied)
    if space.shocks:
        n = len(space.shocks)
        shocks = cfg["scenario"]["shocks"]
        shocks[-n:] = [{k: v for k, v in s.items() if k != "name"} for s in shocks[-n:]]
    return cfg


def _with_shocks(run_config: Mapping[str, Any], space: Space, copied: set[int]) -> dict:
    """A shallow copy of the run config with the space's shocks in `scenario.shocks`."""
    cfg = dict(run_config)
    copied.add(id(cfg))
    if not space.shocks:
        return cfg
    scenario = cfg.get("scenario")
    if not isinstance(scenario, Mapping) or not isinstance(scenario.get("shocks"), list):
        raise ConfigError(f"{space.where}: shocks: the scenario config has no `shocks` list")
    names = {s["name"] for s in space.shocks}
    kept = [s for s in scenario["shocks"] if not (isinstance(s, Mapping) and s.get("name") in names)]
    added = [_deep_copy(s) for s in space.shocks]
    cfg["scenario"] = {**scenario, "shocks": kept + added}
    copied.update({id(cfg["scenario"]), id(cfg["scenario"]["shocks"]), *map(id, added)})
    return cfg


def _deep_copy(value: Any) -> Any:
    import copy

    return copy.deepcopy(dict(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a " + type(value).__name__


def _set_shared(root: Any, parts: list[str], value: Any, copied: set[int]) -> None:
    """Set a dotted path in `root`, copying (once) each container on the way down."""
    node = root
    for i, part in enumerate(parts):
        key: Any = part
        if isinstance(node, list):
            names = [it.get("name") if isinstance(it, Mapping) else None for it in node]
            key = int(part) if part.isdigit() and int(part) < len(node) else names.index(part)
        if i == len(parts) - 1:
            node[key] = value
            return
        child = node[key]
        if id(child) not in copied:
            child = dict(child) if isinstance(child, Mapping) else list(child)
            copied.add(id(child))
            node[key] = child
        node = child
