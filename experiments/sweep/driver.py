"""`handover sweep`: parameter settings x scenarios x replications.

Usage::

    handover sweep 'grid={model.scale:[20,50],country.budget_growth:[0.0,0.05]}' \\
        scenarios=[status_quo,abrupt_exit] replications=10 output_dir=outputs/sw1
    handover sweep 'settings=[{model.timely_months:2},{model.timely_months:4}]' \\
        executor=processes executor.workers=2 output_dir=outputs/sw2

The settings are either a `grid` (mapping of dotted config paths to lists of values; every
combination is run, in the order given) or an explicit list `settings` (each a mapping of
dotted paths to values). The swept paths are declared as categorical factors
(`experiments.space.grid_space`) and each setting is written into the run configuration of
each scenario by `experiments.space.apply_values`. Replication r uses seed `replication_seeds(seed)[r]` (spawned with numpy SeedSequence) in every setting and
scenario (common random numbers), so differences between settings are paired.

Writes to `output_dir`:

- runs.parquet: one row per run: job, setting, the parameter columns (named by their
  dotted paths), scenario, replication, seed, the outcome columns, error;
- summary.csv: one row per setting x scenario: n (successful runs), failed, and per outcome
  `<outcome>_mean`, `<outcome>_lo`, `<outcome>_hi` (Student-t interval at `level`);
- figures/sweep_<parameter>.png: the main `outcomes` against each swept parameter, one line
  per scenario (mean and interval over all runs with that value);
- manifest.json: resolved config, seeds, package versions, git commit, the plan
  (settings, scenarios, overrides) and the run counts;
- store/: the result store; re-running with the same output_dir resumes.

Exit status: 0, or 1 if any run failed (its error is in runs.parquet), 2 for bad input.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.config import ConfigError, compose, run_config
from experiments.settings import SweepSettings, load_settings
from experiments.space import Space, apply_values, grid_space
from experiments.study.atomic import write_csv_atomic
from experiments.study.store import study_lock
from experiments.validation import check_outcomes, validate_jobs
from experiments.study.outputs import manifest, resolve_output_dir, utc_now, write_manifest
from experiments.study.runner import replication_seeds, run_study, study_failed

#: Outcomes drawn in the figures when the config does not say (those present are used).
MAIN_OUTCOMES = (
    "coverage",
    "coverage_vulnerable",
    "dropped_cases",
    "gap_months",
    "sustainable_share_12m",
    "remigration_12m",
    "national_spend",
)

#: Tag columns that are not parameters.
FIXED_TAGS = ("setting", "scenario", "replication", "seed")

JobFn = Callable[[dict[str, Any]], dict[str, Any]]


# --------------------------------------------------------------------------- the plan


def flatten_paths(node: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings to dotted paths: {"model": {"scale": v}} -> {"model.scale": v}.

    Keys that already contain dots are kept as they are ({"model.scale": v} stays).
    """
    if not isinstance(node, dict):
        return {prefix: node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        out.update(flatten_paths(value, path) if isinstance(value, dict) else {path: value})
    return out


def expand_grid(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a grid, the first path varying slowest.

    Args:
        grid: dotted path (or nested mapping) -> non-empty list of values.

    Returns:
        One dict path -> value per combination.

    Raises:
        ConfigError: a value is not a non-empty list, or the grid is empty.
    """
    flat = flatten_paths(grid)
    if not flat:
        raise ConfigError("grid: give at least one path: 'grid={model.scale:[20,50]}'")
    return grid_space(flat).grid()


def settings_space(settings: Sequence[dict[str, Any]]) -> Space:
    """The swept paths as categorical factors whose categories are the values listed."""
    values: dict[str, list[Any]] = {}
    for s in settings:
        for path, v in s.items():
            seen = values.setdefault(path, [])
            if v not in seen:
                seen.append(v)
    return grid_space(values, name="sweep")


def make_plan(settings: SweepSettings) -> dict[str, Any]:
    """The runs validated sweep settings ask for: the parameter settings, space and seeds.

    Args:
        settings: validated settings (`load_settings("sweep", ...)`).

    Returns:
        dict with settings (list of path -> value dicts), params (swept paths in order),
        space (the swept paths as categorical factors), scenarios (names), replications,
        level, outcomes, seeds.

    Raises:
        ConfigError: a malformed grid or settings list, naming the field.
    """
    grid, listed = settings.grid, settings.settings
    if grid is not None:  # an empty grid is refused, never read as "no grid"
        rows = expand_grid(grid)
    elif listed is not None:
        if not listed or not all(isinstance(s, dict) and s for s in listed):
            raise ConfigError("settings: expected a non-empty list of non-empty mappings, "
                              "e.g. 'settings=[{model.scale:20},{model.scale:50}]'")
        rows = [flatten_paths(s) for s in listed]
    else:
        rows = [{}]  # no parameter varies: scenarios x replications only
    space = settings_space(rows)
    return {
        "settings": rows,
        "params": space.names,
        "space": space,
        "scenarios": list(settings.scenarios),
        "replications": settings.replications,
        "level": float(settings.level),
        "outcomes": list(settings.outcomes),
        "seeds": replication_seeds(settings.seed, settings.replications),
    }


def _tag_value(value: Any) -> Any:
    """Scalar for a table column: lists/mappings become their JSON text."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def base_configs(overrides: Sequence[str], plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Scenario name -> its run configuration with the user's overrides, before any setting."""
    return {n: run_config(compose("sweep", [*overrides, f"scenario={n}"]))
            for n in plan["scenarios"]}


def build_jobs(overrides: Sequence[str], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Job specs: setting x scenario x replication (that order, replication fastest).

    Args:
        overrides: the user's Hydra overrides (applied to every scenario's config).
        plan: output of `make_plan`.

    Returns:
        Specs {"config", "setting", <param paths>..., "scenario", "replication", "seed"}.

    Raises:
        ConfigError: a setting names an unknown path or a value of the wrong kind.
    """
    configs = base_configs(overrides, plan)
    jobs = []
    for i, setting in enumerate(plan["settings"]):
        for name in plan["scenarios"]:
            rc = apply_values(configs[name], plan["space"].subset(list(setting)), setting)
            for r, seed in enumerate(plan["seeds"]):
                spec: dict[str, Any] = {"config": rc, "setting": i}
                spec.update({p: _tag_value(setting.get(p)) for p in plan["params"]})
                spec.update({"scenario": name, "replication": r, "seed": seed})
                jobs.append(spec)
    return jobs


# --------------------------------------------------------------------------- results


def summarize(runs: pd.DataFrame, plan: dict[str, Any]) -> pd.DataFrame:
    """One row per setting x scenario: n, failed and mean / interval of every outcome.

    Args:
        runs: the runs table (`runs.parquet`).
        plan: output of `make_plan` (params, scenarios, level).

    Returns:
        DataFrame: setting, the parameter columns, scenario, n, failed, then
        `<outcome>_mean`, `<outcome>_lo`, `<outcome>_hi` for each numeric outcome; the
        interval is clipped to what the outcome can take (`experiments.units.clip`).
    """
    from experiments import units
    from experiments.compare.paired import t_interval

    outcomes = outcome_columns(runs, plan)
    rows = []
    order = {n: i for i, n in enumerate(plan["scenarios"])}
    for (setting, scenario), group in runs.groupby(["setting", "scenario"], sort=False):
        ok = group[group["error"].isna()]
        rec: dict[str, Any] = {"setting": setting}
        rec.update({p: group[p].iloc[0] for p in plan["params"]})
        rec.update({"scenario": scenario, "n": len(ok), "failed": len(group) - len(ok)})
        for o in outcomes:
            mean, lo, hi = t_interval(ok[o].astype(float).to_numpy(), plan["level"])
            rec.update({f"{o}_mean": mean, f"{o}_lo": units.clip(o, lo),
                        f"{o}_hi": units.clip(o, hi)})
        rows.append(rec)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(
            ["setting", "scenario"], key=lambda c: c.map(order) if c.name == "scenario" else c
        ).reset_index(drop=True)
    return table


def outcome_columns(runs: pd.DataFrame, plan: dict[str, Any]) -> list[str]:
    """Numeric outcome columns of a runs table (everything that is not a key or tag)."""
    skip = {"job", "error", *FIXED_TAGS, *plan["params"]}
    return [
        c for c in runs.columns
        if c not in skip and pd.api.types.is_numeric_dtype(runs[c])
        and not pd.api.types.is_bool_dtype(runs[c])
    ]


# --------------------------------------------------------------------------- driver


def _default_job_fn() -> JobFn:
    from experiments.study.jobs import run_job

    return run_job


def run_sweep(
    overrides: Sequence[str] = (), job_fn: JobFn | None = None, progress: bool = True
) -> tuple[Path, pd.DataFrame, int]:
    """Compose, validate, run and write a sweep; the body of `handover sweep`.

    Args:
        overrides: Hydra overrides for configs/sweep.yaml.
        job_fn: picklable job function (default `experiments.study.jobs.run_job`).
        progress: show the progress bar / lines.

    Returns:
        (output folder, summary table, number of failed runs).

    Raises:
        ConfigError: invalid configuration (raised before anything is written).
    """
    overrides = list(overrides)
    started = utc_now()
    cfg, settings = load_settings("sweep", overrides)
    plan = make_plan(settings)
    executor = cfg.get("executor")
    jobs = build_jobs(overrides, plan)
    from experiments.calibrate.posterior import apply_posterior, uncertainty_note

    posterior = apply_posterior(jobs, cfg.get("posterior"), cfg["seed"], len(plan["seeds"]),
                                avoid=[f.path for f in plan["space"].factors])
    if job_fn is None:  # every setting x scenario as the simulator reads it, before any file
        # also the values a setting replaces: a bad value given by hand is no less bad
        validate_jobs([{"config": c, "scenario": n} for n, c in base_configs(overrides, plan).items()],
                      ("scenario",))
        validate_jobs(jobs, ("setting", "scenario"))
    check_outcomes(plan["outcomes"])
    fn = job_fn or _default_job_fn()
    out = resolve_output_dir(cfg, "sweep")
    with study_lock(out):
        return _sweep_locked(cfg, overrides, plan, jobs, fn, executor, out, progress,
                             uncertainty_note(posterior), started)


def _sweep_locked(cfg, overrides, plan, jobs, fn, executor, out, progress, note, started):
    """Run and write a validated sweep while holding the study folder's lock."""
    from experiments.sweep.plots import plot_sweep

    runs = run_study(jobs, fn, out, executor, label="sweep", progress=progress)
    summary = summarize(runs, plan)
    write_csv_atomic(summary, out / "summary.csv")
    figures = plot_sweep(out / "runs.parquet", out / "figures", plan)
    write_manifest(out, manifest(
        cfg, cfg["seed"], "sweep", seeds=plan["seeds"], started_utc=started,
        counts={"runs": len(runs), "failed": study_failed(runs),
                "settings": len(plan["settings"]), "scenarios": len(plan["scenarios"]),
                "replications": plan["replications"]},
        overrides=overrides, settings=plan["settings"], scenarios=plan["scenarios"],
        study=runs.attrs.get("study", {}), uncertainty=note,
        figures=[str(p.relative_to(out)) for p in figures]))
    return out, summary, study_failed(runs)


def format_summary(
    summary: pd.DataFrame, plan_params: Sequence[str], outcomes: Sequence[str]
) -> str:
    """A compact text view of summary.csv (means with intervals) for the terminal."""
    if summary.empty:
        return "(no runs)"
    view = summary[["setting", *plan_params, "scenario", "n"]].copy()
    for o in outcomes[:4]:
        if f"{o}_mean" in summary:
            view[o] = [
                f"{m:.3g} [{lo:.3g}, {hi:.3g}]" if not math.isnan(lo) else f"{m:.3g}"
                for m, lo, hi in zip(summary[f"{o}_mean"], summary[f"{o}_lo"], summary[f"{o}_hi"])
            ]
    return view.to_string(index=False)


def main(overrides: list[str]) -> int:
    """`handover sweep [overrides]`: 0 when every run succeeded, 1 if any failed."""
    out, summary, failed = run_sweep(overrides)
    cfg_outcomes = [c[: -len("_mean")] for c in summary.columns if c.endswith("_mean")]
    params = [c for c in summary.columns
              if c not in ("setting", "scenario", "n", "failed")
              and not c.endswith(("_mean", "_lo", "_hi"))]
    main_first = [o for o in MAIN_OUTCOMES if o in cfg_outcomes] or cfg_outcomes
    print(format_summary(summary, params, main_first))
    print(json.loads((out / "manifest.json").read_text()).get("uncertainty", ""))
    print(f"\nresults in {out}/ (runs.parquet, summary.csv, figures/)")
    if failed:
        print(f"{failed} run(s) failed: see the error column of {out / 'runs.parquet'}",
              file=sys.stderr)
        return 1
    return 0
