"""`handover calibrate`: fit declared factors to a profile's targets (ABC-SMC).

Usage::

    handover calibrate                                   # nigeria_like, its targets and space
    handover calibrate country=tunisia_like particles=60 generations=4 executor=processes

Reads the targets (configs/targets/<country>.yaml) and the factors with their priors
(configs/calibrate/<country>.yaml, format of experiments/space.py, docs/space.md), runs ABC-SMC (`abc.py`) with one
study per generation under `output_dir/generations/` (resumable: run the same command with
the same output_dir), and writes to `output_dir`:

- posterior.csv   parameter sets of the last generation with `weight` (+ space.yaml):
                  the folder is what `posterior=<dir>` in compare, sweep, stress and
                  validate reads;
- candidates.csv  every simulated candidate, its distance and whether it was kept;
- fit.csv         targets vs simulated (posterior-weighted mean and interval);
- posterior_summary.csv  prior and posterior mean and interval of each factor;
- fit.png, posterior.png, manifest.json;
- country/<name>.yaml  the calibrated profile (posterior-weighted means applied); with
                  install=true also configs/country/<name>.yaml and configs/targets/<name>.yaml,
                  so `country=<name>` works in every command.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import yaml

from experiments.calibrate.abc import (
    Settings,
    prior_of,
    prior_rv,
    run_abc,
    support_ends,
    weighted_interval,
)
from experiments.calibrate.jobs import with_statistics
from experiments.calibrate.targets import TARGET_DIR, TargetSet
from experiments.calibrate.validate import optional_text, plot_validation, prepare, require_flag
from experiments.config import CONFIG_DIR, ConfigError, require_fraction, require_int, require_seed
from experiments.space import Space, apply_values, check_paths, load_space
from experiments.study.atomic import write_csv_atomic
from experiments.study.outputs import manifest, resolve_output_dir, utc_now, write_manifest
from experiments.study.runner import replication_seeds
from experiments.study.store import study_lock
from experiments.validation import validate_jobs

SPACE_DIR = CONFIG_DIR / "calibrate"


def parse_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """Validate the calibrate-specific keys of a composed config.

    Raises:
        ConfigError: naming the field and what is allowed.
    """
    require_seed(cfg)
    name = optional_text(cfg, "name", "letters, digits and _ only")
    if name is not None and not name.replace("_", "").isalnum():
        raise ConfigError(f"name: letters, digits and _ only, got {name!r}")
    install = require_flag(cfg, "install", True)
    space = optional_text(cfg, "space", "a path to a factors YAML file")
    return {
        "particles": require_int(cfg, "particles", 2), "generations": require_int(cfg, "generations", 1),
        "oversample": require_int(cfg, "oversample", 1), "replications": require_int(cfg, "replications", 1),
        "level": float(require_fraction(cfg, "level", default=0.9)), "name": name,
        "install": install, "space": space,
    }


def check_candidates(config: dict[str, Any], space: Space, targets: TargetSet) -> None:
    """Every run calibration may make, checked before anything runs (`validate_jobs`).

    Candidates are drawn inside the priors' support, so the runs at its ends (each factor
    low and high, all low, all high; `abc.support_ends`) stand for all of them.

    Raises:
        ConfigError: a factor whose prior cannot be fitted (categorical), or a run
            configuration the simulator would refuse, naming the field and the candidate.
    """
    prior_of(space)  # refuses categorical factors
    probes = [{"config": with_statistics(apply_values(config, space, values), targets.statistics),
               "candidate": label} for label, values in support_ends(space)]
    validate_jobs(probes, ("candidate",))


def load_calibration_space(name_or_path: str) -> Space:
    """The factors to fit: configs/calibrate/<name>.yaml or a path (experiments/space.py format).

    Raises:
        ConfigError: naming `space` and, for a bad file, the file and its field.
    """
    try:
        return load_space(name_or_path, folder=SPACE_DIR)
    except ConfigError as err:
        if str(err).startswith("space:"):
            raise
        raise ConfigError(f"space: {err}") from None


def fit_table(targets: TargetSet, posterior: pd.DataFrame, level: float) -> pd.DataFrame:
    """Targets vs posterior-weighted simulated mean and interval (one row per target)."""
    w = posterior["weight"].to_numpy()
    rows = []
    for t in targets.targets:
        v = posterior[t.name].to_numpy(float)
        ok = np.isfinite(v)
        mean = float(np.average(v[ok], weights=w[ok])) if ok.any() else np.nan
        lo, hi = weighted_interval(v[ok], w[ok] / w[ok].sum(), level) if ok.any() else (np.nan, np.nan)
        rows.append({"target": t.name, "source": t.source, "value": t.value, "low": t.low,
                     "high": t.high, "simulated_mean": mean, "simulated_low": lo,
                     "simulated_high": hi, "fitted": t.fit,
                     "within_tolerance": "yes" if t.met(mean) else "no"})
    return pd.DataFrame(rows)


def posterior_summary(space: Space, posterior: pd.DataFrame, level: float) -> pd.DataFrame:
    """Prior and posterior mean and central interval of each factor."""
    w = posterior["weight"].to_numpy()
    rows = []
    for f in space.factors:
        rv = prior_rv(f).distribution  # the frozen scipy distribution
        lo, hi = weighted_interval(posterior[f.name].to_numpy(float), w, level)
        rows.append({"factor": f.name, "prior": f"{f.dist}{tuple(round(p, 6) for p in f.salib_params)}",
                     "prior_mean": float(rv.mean()), "prior_low": float(rv.ppf((1 - level) / 2)),
                     "prior_high": float(rv.ppf(1 - (1 - level) / 2)),
                     "posterior_mean": float(np.average(posterior[f.name], weights=w)),
                     "posterior_low": lo, "posterior_high": hi})
    return pd.DataFrame(rows)


def plot_posterior(space: Space, candidates: pd.DataFrame, summary: pd.DataFrame, path: Path) -> None:
    """Marginal posterior of each factor (weighted histogram) over its prior's density."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = candidates[candidates["generation"] == candidates["generation"].max()]
    last = last[last["accepted"]]
    fig, axes = plt.subplots(1, len(space.factors), figsize=(4.2 * len(space.factors), 3.4), squeeze=False)
    for ax, f, row in zip(axes[0], space.factors, summary.itertuples()):
        rv = prior_rv(f).distribution
        lo, hi = rv.ppf(0.001), rv.ppf(0.999)
        x = np.linspace(lo, hi, 200)
        ax.plot(x, rv.pdf(x), color="grey", label="prior")
        ax.hist(last[f.name], weights=last["weight"], bins=np.linspace(lo, hi, 30), density=True, alpha=0.6,
                color="tab:blue", label="posterior")
        ax.axvspan(row.posterior_low, row.posterior_high, color="tab:blue", alpha=0.1)
        ax.set_title(f.name.split(".", 1)[-1], fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def calibrated_profile(country: dict[str, Any], space: Space, summary: pd.DataFrame,
                       name: str) -> dict[str, Any]:
    """The composed country profile with the posterior means written at the factor paths."""
    means = space.from_sample(summary["posterior_mean"].to_numpy())
    root = apply_values({"model": {}, "country": {**country, "name": name}, "scenario": {}}, space, means)
    return root["country"]


def run_calibration(overrides: Sequence[str]) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """Compose, validate, fit and write; the body of `handover calibrate`.

    Returns:
        (output folder, fit table, posterior summary).
    """
    from experiments.study.executors import parse_executor

    started = utc_now()
    cfg, targets, config = prepare(overrides, "calibrate")
    settings = parse_settings(cfg)
    country = cfg["country"]["name"]
    space = load_calibration_space(settings["space"] or country)
    check_paths(space, config)
    if not targets.fitted():
        raise ConfigError(f"{targets.source}: no target has fit: true; nothing to calibrate")
    parse_executor(cfg.get("executor"))
    check_candidates(config, space, targets)
    name = settings["name"] or f"{country}_calibrated"
    out = resolve_output_dir(cfg, "calibrate")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir: '{out}' is a file, not a folder")
    abc = Settings(settings["particles"], settings["generations"], settings["oversample"],
                   settings["replications"], int(cfg["seed"]))
    print(f"handover calibrate: country={country} factors={', '.join(space.names)} "
          f"targets={', '.join(t.name for t in targets.fitted())} "
          f"{abc.generations} generations x {abc.particles * abc.oversample} candidates x {abc.replications} runs")
    with study_lock(out):  # one study per folder; refused runs leave nothing
        posterior, candidates = run_abc(config, space, targets, abc, out, cfg.get("executor"))
        level = settings["level"]
        fit = fit_table(targets, posterior, level)
        summary = posterior_summary(space, posterior, level)
        write_csv_atomic(posterior[[*space.names, "weight", "distance", *[t.name for t in targets.targets]]],
                         out / "posterior.csv")
        (out / "space.yaml").write_text(yaml.safe_dump(space_as_data(space), sort_keys=False))
        write_csv_atomic(candidates, out / "candidates.csv")
        write_csv_atomic(fit, out / "fit.csv")
        write_csv_atomic(summary, out / "posterior_summary.csv")
        plot_validation(fit, out / "fit.png", f"{country}: targets vs calibrated model (posterior, {level:.0%})")
        plot_posterior(space, candidates, summary, out / "posterior.png")
        profile = calibrated_profile(cfg["country"], space, summary, name)
        (out / "country").mkdir(exist_ok=True)
        text = (f"# Calibrated by `handover calibrate` ({out}); posterior means of "
                f"{', '.join(space.names)}.\n" + yaml.safe_dump(profile, sort_keys=False))
        (out / "country" / f"{name}.yaml").write_text(text)
        if settings["install"]:
            (CONFIG_DIR / "country" / f"{name}.yaml").write_text(text)
            shutil.copyfile(targets.source, TARGET_DIR / f"{name}.yaml")
        write_manifest(out, manifest(
            cfg, int(cfg["seed"]), "calibrate", started_utc=started,
            seeds=replication_seeds(int(cfg["seed"]), settings["replications"]),
            counts={"candidates": len(candidates), "posterior": len(posterior),
                    "targets": len(targets.targets), "parameters": len(space.names)},
            space=space_as_data(space)))
        return out, fit, summary


def space_as_data(space: Space) -> dict[str, Any]:
    """A space as the plain data `parse_space` reads (for space.yaml next to a posterior)."""
    return {"description": space.description, "factors": [f.as_dict() for f in space.factors]}


def main(overrides: list[str]) -> int:
    """Entry point of `handover calibrate`; returns the exit status."""
    from experiments.calibrate.validate import format_table

    out, fit, summary = run_calibration(overrides)
    print(format_table(fit))
    print()
    print(summary.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"\nwrote {out}/: posterior.csv space.yaml candidates.csv fit.csv posterior_summary.csv "
          "fit.png posterior.png country/ manifest.json")
    return 0
