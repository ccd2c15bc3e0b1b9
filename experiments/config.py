"""Compose Hydra configs for the commands and turn them into plain run configurations.

Only this module (and the command modules) touch Hydra; `sim/` and `scenarios/` see plain
dicts. Every composition error becomes a `ConfigError` whose message names the field and
the allowed values, so the CLI can exit with status 2 before anything is written.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Callable, Mapping

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

#: Keys of a composed config that make up one run's configuration (what `sim` consumes).
RUN_KEYS = ("model", "country", "scenario")


class ConfigError(ValueError):
    """Invalid user input: a field and what is allowed. The CLI exits with status 2."""


def group_options(group: str) -> list[str]:
    """Names of the YAML files available in a config group folder (e.g. `country`)."""
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


#: Config groups whose choice may also be a YAML file of the user's (`scenario=my.yaml`).
FILE_GROUPS = ("scenario", "country")
#: What a built-in group option may be called (no path separators, no `..`).
_OPTION_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
#: Option name a user file gets in the temporary search path (never a built-in name).
_FILE_OPTION = "_user_file"


def is_config_file(value: Any) -> bool:
    """True when a group choice names a YAML file (`scenario=path/to/file.yaml`)."""
    return isinstance(value, str) and value.endswith((".yaml", ".yml"))


def file_label(value: str) -> str:
    """The name a run from a user's YAML file carries: its `name:` key, else the stem."""
    import yaml

    try:
        data = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    name = data.get("name") if isinstance(data, dict) else None
    return str(name) if isinstance(name, str) and name else Path(value).stem


def compose(config_name: str, overrides: list[str] | None = None) -> dict[str, Any]:
    """Compose `configs/<config_name>.yaml` with Hydra overrides into a plain dict.

    `scenario=` and `country=` take a built-in name (a file in configs/<group>/) or a path
    to a YAML file of the user's (ending in .yaml or .yml), which is composed exactly like
    a built-in one. Keys added with `+` are refused: nothing would read them.

    Raises:
        ConfigError: unknown key (with close matches), unknown group option, unreadable
            file, malformed override, unresolvable interpolation or `${oc.env:...}`.
    """
    import shutil
    import tempfile

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from experiments.settings import register

    register()  # the commands' structured-config schemas (experiments/settings.py)
    overrides = list(overrides or [])
    _refuse_environment(overrides)
    search = Path(tempfile.mkdtemp(prefix="handover-configs-"))
    try:
        overrides = _group_choices(overrides, search)
        if any(search.iterdir()):
            overrides.append(f"hydra.searchpath=[file://{search}]")
        for _ in range(len(overrides) + 1):  # once more per list item named by its name
            GlobalHydra.instance().clear()
            try:
                with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
                    cfg = hydra_compose(config_name=config_name, overrides=overrides)
                    out = OmegaConf.to_container(cfg, resolve=True)
                break
            except (HydraException, OmegaConfBaseException) as err:
                raise ConfigError(_explain(err, config_name)) from None
            except TypeError as err:  # OmegaConf: a list indexed by a name
                GlobalHydra.instance().clear()
                overrides = _index_named_item(str(err), overrides, config_name)
            finally:
                GlobalHydra.instance().clear()
    finally:
        shutil.rmtree(search, ignore_errors=True)
    _refuse_added_keys(overrides, config_name, out)
    return out


def _index_named_item(error: str, overrides: list[str], config_name: str) -> list[str]:
    """Rewrite the override that names a list item by its `name` to use its position.

    `country.funders.treasury.fiscal_space=0.5` becomes `country.funders.2.fiscal_space=0.5`
    when the treasury is item 2 of `country.funders` (as factors in configs/sa and
    configs/stress name them). Hydra itself only takes positions.

    Raises:
        ConfigError: no list item has that name (naming the key and the allowed names).
    """
    import re

    match = re.search(r"Index '([^']+)' \(str\) is not an int", error)
    name = match.group(1) if match else None
    for k, item in enumerate(overrides):
        key, sep, value = item.partition("=")
        parts = key.lstrip("+~").split(".")
        if name is None or name not in parts[1:]:
            continue
        j = parts.index(name, 1)
        base = compose(config_name, overrides[:k] + overrides[k + 1:])
        try:
            items = get_dotted(base, ".".join(parts[:j]))
        except ConfigError:
            items = None
        names = [x.get("name") for x in items if isinstance(x, dict)] if isinstance(items, list) else []
        if name not in names:
            raise ConfigError(f"{key.lstrip('+~')}: no item named '{name}' in "
                              f"{'.'.join(parts[:j])}; allowed: {', '.join(map(str, names)) or 'none'}")
        prefix = key[: len(key) - len(key.lstrip("+~"))]
        parts[j] = str(names.index(name))
        return [*overrides[:k], f"{prefix}{'.'.join(parts)}{sep}{value}", *overrides[k + 1:]]
    raise ConfigError(f"an override indexes a list with a name: {error}")


def _refuse_environment(overrides: list[str]) -> None:
    """Environment variables are never read: they would leak into manifests and reports."""
    for item in overrides:
        if "oc.env" in item or "oc.decode" in item:
            key = item.lstrip("+~").partition("=")[0]
            raise ConfigError(f"{key}: ${{oc.env:...}} is not supported (environment values "
                              "would be copied into manifests and reports); give the value")


def _group_choices(overrides: list[str], search: Path) -> list[str]:
    """Check `group=name` overrides; copy a user's YAML file into the search path `search`.

    Raises:
        ConfigError: an unknown built-in name (with the allowed ones), a path that is not a
            readable .yaml file, or a name that is a path (`scenario=../../x`).
    """
    out = []
    for item in overrides:
        key, sep, value = item.lstrip("+~").partition("=")
        if key == "hydra" or key.startswith("hydra."):
            raise ConfigError(f"{key}: Hydra's own settings are not used here; own scenario "
                              "and country files go in scenario=path.yaml, country=path.yaml")
        folder = CONFIG_DIR / key
        if not sep or "." in key or not folder.is_dir() or value.startswith("["):
            out.append(item)
            continue
        allowed = ", ".join(group_options(key))
        if is_config_file(value) and key in FILE_GROUPS:
            path = Path(value).expanduser()
            if not path.is_file():
                raise ConfigError(f"{key}: file '{value}' not found")
            (search / key).mkdir(exist_ok=True)
            target = search / key / f"{_FILE_OPTION}.yaml"
            try:
                target.write_bytes(path.read_bytes())
            except OSError as err:
                raise ConfigError(f"{key}: cannot read '{value}': {err.strerror}") from None
            out.append(item[: len(item) - len(item.lstrip("+~"))] + f"{key}={_FILE_OPTION}")
            continue
        if not _OPTION_NAME.fullmatch(value) or not (folder / f"{value}.yaml").exists():
            files = " or a path to a .yaml file" if key in FILE_GROUPS else ""
            raise ConfigError(f"{key}: unknown {key} '{value}'; allowed: {allowed}{files}")
        out.append(item)
    return out


def _refuse_added_keys(overrides: list[str], config_name: str, cfg: dict[str, Any]) -> None:
    """Refuse `+key=value` / `++key=value` adding a key the configuration does not have."""
    added = [o for o in overrides if o.startswith("+")]
    if not added:
        return
    base = compose(config_name, [o for o in overrides if not o.startswith("+")
                                 and not o.startswith("hydra.")])
    known = sorted(_dotted_keys(base))
    for item in added:
        key = item.lstrip("+").partition("=")[0]
        if key in known:
            continue
        raise ConfigError(f"{key}: unknown key{_close(key, known)} ('+' cannot add keys: "
                          "nothing would read them)")


def _dotted_keys(node: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(node, Mapping):
        for k, v in node.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            out.append(path)
            out += _dotted_keys(v, path)
    return out


def _close(key: str, known: list[str]) -> str:
    """'; did you mean a, b?' with the known dotted keys closest to `key` (or '')."""
    import difflib

    near = difflib.get_close_matches(key, known, n=4, cutoff=0.6)
    if not near and "." in key:  # compare the last part among siblings
        parent, _, leaf = key.rpartition(".")
        siblings = [k for k in known if k.rpartition(".")[0] == parent]
        near = difflib.get_close_matches(key, siblings, n=4, cutoff=0.0)[:4]
    return f"; did you mean {', '.join(near)}?" if near else ""


def _explain(err: Exception, config_name: str | None = None) -> str:
    cause = err
    while cause.__cause__ is not None:  # Hydra wraps OmegaConf's typed-validation error
        cause = cause.__cause__
    key = getattr(cause, "full_key", None)
    if key and type(cause).__name__ == "ValidationError":
        detail = str(cause).strip().splitlines()[0]
        return f"{key}: {detail} (types: experiments/settings.py)"
    text = str(err).strip().splitlines()
    first = text[0] if text else repr(err)
    if "not in struct" in str(err) or "Could not override" in str(err):
        key = first.split("'")[1] if first.count("'") >= 2 else first
        near = ""
        if config_name is not None:
            try:
                near = _close(key, sorted(_dotted_keys(compose(config_name, []))))
            except ConfigError:
                near = ""
        return f"{key}: unknown key{near} (see configs/ or `handover <command> --help`)"
    if "Interpolation" in type(err).__name__ or "interpolation" in first.lower():
        return f"interpolation: {first} (write the value itself)"
    return first


def run_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The part of a composed config that defines one simulation run.

    A country profile's `data:` files (arrivals, donor budgets) are read and checked here
    and written into the run configuration as series (`experiments.country_data`).

    Raises:
        ConfigError: a run key is missing, or a data file is missing or malformed.
    """
    from experiments.country_data import attach_data

    missing = [k for k in RUN_KEYS if k not in cfg]
    if missing:
        raise ConfigError(f"config lacks {', '.join(missing)}")
    out = {k: copy.deepcopy(cfg[k]) for k in RUN_KEYS}
    if isinstance(out["country"], dict):
        out["country"] = attach_data(out["country"])
    return out


def set_dotted(config: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Return a copy of `config` with the value at dotted `path` replaced.

    Only existing keys can be set (typos fail). List items are addressed by index or,
    for lists of named mappings, by their `name` (e.g. `country.providers.iom.capacity`).

    Raises:
        ConfigError: the path does not exist.
    """
    out = copy.deepcopy(config)
    node: Any = out
    parts = path.split(".")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, dict):
            if part not in node:
                raise ConfigError(
                    f"{path}: no key '{part}' here; allowed: {', '.join(map(str, node))}"
                )
            if last:
                node[part] = value
            else:
                node = node[part]
        elif isinstance(node, list):
            idx = _list_index(node, part, path)
            if last:
                node[idx] = value
            else:
                node = node[idx]
        else:
            raise ConfigError(f"{path}: '{'.'.join(parts[:i])}' is a value, not a mapping")
    return out


def get_dotted(config: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted path (list items by index or by `name`), as `set_dotted` reads it.

    Args:
        config: nested mappings and lists (e.g. a run configuration).
        path: dotted path such as `country.providers.iom.capacity`.

    Returns:
        The value found there.

    Raises:
        ConfigError: the path does not exist.
    """
    node: Any = config
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list):
            names = [it.get("name") for it in node if isinstance(it, Mapping)]
            if part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            elif part in names:
                node = node[names.index(part)]
            else:
                raise ConfigError(
                    f"{path}: no item '{part}'; allowed: {', '.join(map(str, names))}"
                )
        else:
            allowed = ", ".join(map(str, node)) if isinstance(node, Mapping) else "(a value)"
            raise ConfigError(f"{path}: no key '{part}' here; allowed: {allowed}")
    return node


def _list_index(items: list[Any], part: str, path: str) -> int:
    if part.isdigit() and int(part) < len(items):
        return int(part)
    names = [it.get("name") for it in items if isinstance(it, dict)]
    if part in names:
        return names.index(part)
    raise ConfigError(f"{path}: no item '{part}'; allowed: {', '.join(map(str, names))}")


# --------------------------------------------------------------------------- validators

_REQUIRED = object()


def _require(
    cfg: Mapping[str, Any], key: str, default: Any, ok: Callable[[Any], bool], what: str
) -> Any:
    """`cfg[key]` (or `default`) if it is not a bool and `ok(value)`; else a ConfigError."""
    v = cfg.get(key) if default is _REQUIRED else cfg.get(key, default)
    if isinstance(v, bool) or not ok(v):
        raise ConfigError(f"{key}: must be {what}, got {v!r}")
    return v


def require_int(cfg: Mapping[str, Any], key: str, minimum: int, default: Any = _REQUIRED) -> int:
    """An integer setting of at least `minimum` (booleans are not integers).

    Args:
        cfg: composed config (or any mapping of settings).
        key: the setting's name (named in the error message).
        minimum: smallest allowed value.
        default: value when `key` is absent (absent without default: None, rejected).

    Returns:
        The value.

    Raises:
        ConfigError: "<key>: must be an integer >= <minimum>, got <value>".
    """
    return _require(cfg, key, default, lambda v: isinstance(v, int) and v >= minimum,
                    f"an integer >= {minimum}")


def require_positive(cfg: Mapping[str, Any], key: str, default: Any = _REQUIRED) -> int | float:
    """A number setting greater than 0 (booleans are not numbers).

    Args:
        cfg: composed config (or any mapping of settings).
        key: the setting's name.
        default: value when `key` is absent.

    Returns:
        The value (int or float, as given).

    Raises:
        ConfigError: "<key>: must be a positive number, got <value>".
    """
    return _require(cfg, key, default, lambda v: isinstance(v, (int, float)) and v > 0,
                    "a positive number")


def require_fraction(cfg: Mapping[str, Any], key: str, default: Any = _REQUIRED) -> int | float:
    """A number setting strictly between 0 and 1, such as a confidence level.

    Args:
        cfg: composed config (or any mapping of settings).
        key: the setting's name.
        default: value when `key` is absent.

    Returns:
        The value, as given.

    Raises:
        ConfigError: "<key>: must be a number in (0, 1), got <value>".
    """
    return _require(cfg, key, default, lambda v: isinstance(v, (int, float)) and 0 < v < 1,
                    "a number in (0, 1)")


def require_seed(cfg: Mapping[str, Any], key: str = "seed") -> int:
    """The base seed: a non-negative integer.

    Args:
        cfg: composed config (or any mapping of settings).
        key: the setting's name.

    Returns:
        The seed.

    Raises:
        ConfigError: "<key>: must be a non-negative integer, got <value>".
    """
    return _require(cfg, key, _REQUIRED, lambda v: isinstance(v, int) and v >= 0,
                    "a non-negative integer")


def require_scenarios(cfg: dict[str, Any], default: list[str] | None = None) -> list[str]:
    """The `scenarios` list of a multi-run config: names in configs/scenario/ or YAML paths.

    Args:
        cfg: the composed config.
        default: names used when `scenarios` is null (None: the whole library).

    Raises:
        ConfigError: not a non-empty list, unknown names (with the allowed ones), duplicates.
    """
    library = group_options("scenario")
    names = cfg.get("scenarios")
    if names is None:
        names = list(default) if default is not None else list(library)
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names:
        raise ConfigError(f"scenarios: expected a non-empty list; allowed: {', '.join(library)}")
    names = [str(n) for n in names]
    unknown = [n for n in names if n not in library
               and not (is_config_file(n) and Path(n).expanduser().is_file())]
    if unknown:
        raise ConfigError(f"scenarios: unknown scenario {', '.join(unknown)}; allowed: "
                          f"{', '.join(library)} or paths to .yaml files")
    if len(set(names)) != len(names):
        raise ConfigError(f"scenarios: duplicate names in {names}")
    return names


def refuse_single_scenario(overrides: list[str] | tuple[str, ...], command: str) -> None:
    """Multi-scenario commands take `scenarios=[...]`; a `scenario=` override is refused.

    Raises:
        ConfigError: naming `scenario` and the allowed scenario names.
    """
    for item in overrides:
        if item.lstrip("+~").partition("=")[0] == "scenario":
            raise ConfigError(
                f"scenario: {command} runs several scenarios; use scenarios=[a,b,...] "
                f"(allowed: {', '.join(group_options('scenario'))})"
            )
