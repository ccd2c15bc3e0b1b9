"""`handover stress`: exit strategies under many futures; robustness, discovery, donor report.

Usage::

    handover stress                                        # configs/stress.yaml defaults
    handover stress scenarios=[status_quo,abrupt_exit] futures=40 replications=3 \\
        thresholds.coverage_target=0.7 criterion=minimax_regret_gap_risk \\
        discovery.scenario=abrupt_exit executor=processes output_dir=outputs/stress

Steps:
1. The uncertainty space (`configs/stress/<name>.yaml`, chosen with `stress=<name>`)
   declares factors: dotted paths into the run configuration with a range (shock
   magnitudes and timings, slow parameters). A seeded Latin hypercube draws K futures.
2. Every scenario runs in every future and replication; replication r uses the same seed
   in every scenario and future (common random numbers), through the shared executor and
   result store (`run_study`: resumable, `runs.parquet`).
3. Replications are averaged into one row per scenario x future; `experiments.stress.robustness`
   gives the robustness table and the most robust strategy; `experiments.stress.discovery` finds
   where the chosen scenario fails (PRIM).
4. Files in `output_dir`: futures.csv, runs.parquet, outcomes.csv (scenario x future),
   robustness.csv, discovery.csv, trajectories.csv, timeseries.parquet, figures/*.png,
   report.html. See docs/stress.md.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from experiments.study.atomic import atomic_write_text, write_csv_atomic, write_parquet_atomic
from experiments.config import ConfigError, compose, run_config
from experiments.settings import StressSettings, load_settings
from experiments.space import Space, apply_values, parse_space
from experiments.stress.discovery import Failure, describe_box, discover
from experiments.study.outputs import manifest, resolve_output_dir, utc_now, write_manifest
from experiments.stress.robustness import (
    DEFAULT_METRICS,
    SUBGROUP_METRICS,
    DIRECTIONS,
    Thresholds,
    criteria,
    most_robust,
    summarize,
    tidy_outcomes,
    versus_reference,
)
from experiments.study.runner import load_series, replication_seeds, study_stream
from experiments.study.store import study_lock
from experiments.validation import check_discovery, validate_jobs

JobFn = Callable[[dict[str, Any]], Any]

#: names a factor may not take (they are columns of the run table)
RESERVED = {"scenario", "future", "replication", "seed", "job", "error", "config",
            "series_path", "replications", "traceback", "seconds"}
#: outcome names a factor may not shadow
OUTCOME_NAMES = set(DIRECTIONS) | {"donor_spend", "national_spend", "remigration_12m",
                                   "remigration_24m", "coverage_nonprogramme"}


# --------------------------------------------------------------------------- the space


def stress_space(node: Mapping[str, Any]) -> Space:
    """Validate the `stress` config node (a `configs/stress/<name>.yaml` space).

    The format is `experiments.space`'s; factor names must also not clash with the
    columns of the run table.

    Raises:
        ConfigError: a missing or malformed field (named in the message).
    """
    space = parse_space(node, source="stress", name="stress")
    reserved = [n for n in space.names if n in RESERVED or n in OUTCOME_NAMES]
    if reserved:
        raise ConfigError(
            f"stress.factors: name(s) {', '.join(reserved)} are reserved (run-table columns)"
        )
    return space


def sample_futures(space: Space, k: int, seed: int) -> pd.DataFrame:
    """Draw K futures with a seeded Latin hypercube (scipy.stats.qmc.LatinHypercube).

    Each factor's range is cut into K equal-probability strata and every stratum is used
    once. The same (space, K, seed) always gives the same futures.

    Args:
        space: the uncertainty space.
        k: number of futures (>= 1).
        seed: base seed; the sampler uses its own child stream of it.

    Returns:
        DataFrame with column `future` (0..K-1) and one column per factor.
    """
    from scipy.stats import qmc

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"futures: must be an integer >= 1, got {k!r}")
    rng = np.random.default_rng(study_stream(seed, "futures"))
    unit = qmc.LatinHypercube(d=len(space.factors), rng=rng).random(k)
    rows = space.ppf(unit)
    data: dict[str, Any] = {"future": np.arange(k)}
    for f in space.factors:
        values = [row[f.name] for row in rows]
        data[f.name] = values if f.kind == "categorical" else np.asarray(
            values, dtype=int if f.kind == "integer" and f.apply == "set" else float)
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class StressPlan:
    """What a stress study runs and how it judges: validated settings plus derived objects."""

    scenarios: list[str]
    futures: int
    replications: int
    sample_seed: int
    thresholds: Thresholds
    criterion: str
    discovery_scenarios: list[str]
    failure: Failure
    discovery_options: dict[str, Any]
    timeseries_replications: int


def stress_plan(settings: StressSettings) -> StressPlan:
    """Thresholds, criterion and discovery options of validated stress settings.

    Args:
        settings: from `load_settings("stress", ...)` (scenarios, counts and seeds checked).

    Raises:
        ConfigError: the message names the field and the allowed values.
    """
    cfg = vars(settings)
    names = list(settings.scenarios)
    futures, reps, sample_seed = settings.futures, settings.replications, settings.sample_seed
    th = cfg.get("thresholds") or {}
    allowed_th = {"coverage_target", "gap_metric", "gap_tolerance"}
    if not isinstance(th, Mapping) or set(th) - allowed_th:
        raise ConfigError(f"thresholds: allowed keys {', '.join(sorted(allowed_th))}")
    thresholds = Thresholds(**th)
    metrics = metrics_for(thresholds)
    crit = cfg.get("criterion", "max_satisficing")
    if crit not in criteria(metrics):
        raise ConfigError(f"criterion: unknown '{crit}'; allowed: {', '.join(criteria(metrics))}")
    disc = dict(cfg.get("discovery") or {})
    which = disc.pop("scenario", None)
    if which is None:
        which = list(names)
    elif isinstance(which, str):
        which = [which]
    bad = [s for s in which if s not in names]
    if bad:
        raise ConfigError(
            f"discovery.scenario: {', '.join(bad)} not among the stressed scenarios; "
            f"allowed: {', '.join(names)}"
        )
    fail = disc.pop("failure", None) or {}
    if not isinstance(fail, Mapping) or set(fail) - {"outcome", "op", "threshold"}:
        raise ConfigError("discovery.failure: allowed keys outcome, op, threshold")
    failure = Failure(**fail)
    options = {"peel_alpha": 0.05, "paste_alpha": 0.05, "mass_min": 0.05, "max_boxes": 3,
               "min_coverage": 0.5, "max_qp": 0.05}
    extra = set(disc) - set(options)
    if extra:
        raise ConfigError(
            f"discovery: unknown key(s) {sorted(extra)}; allowed: scenario, failure, "
            f"{', '.join(options)}"
        )
    options.update(disc)
    ts = settings.timeseries_replications
    return StressPlan(names, futures, reps, sample_seed, thresholds, crit,
                    list(which), failure, options, min(ts, reps))


def metrics_for(thresholds: Thresholds, columns: Iterable[str] | None = None) -> list[str]:
    """Metrics summarised: the defaults, the subgroup view and the thresholds' gap metric;
    with `columns`, the subgroup metrics the tidy table lacks are left out."""
    sub = [m for m in SUBGROUP_METRICS if columns is None or m in columns]
    return list(dict.fromkeys([*DEFAULT_METRICS, *sub, thresholds.gap_metric]))


# --------------------------------------------------------------------------- jobs


def build_jobs(
    run_configs: Mapping[str, Mapping[str, Any]],
    space: Space,
    futures: pd.DataFrame,
    seeds: Sequence[int],
) -> list[dict[str, Any]]:
    """Job specs: every scenario x future x replication, with common random numbers.

    Replication r has seed `seeds[r]` in every scenario and future. Each spec carries the
    factor values as tags (so runs.parquet is self-describing).

    Args:
        run_configs: scenario name -> its run configuration.
        space: the uncertainty space.
        futures: output of `sample_futures`.
        seeds: replication seeds.

    Returns:
        Specs in scenario-major, then future, then replication order.
    """
    jobs = []
    for name, rc in run_configs.items():
        for row in futures.to_dict("records"):
            k = int(row["future"])
            values = {f.name: row[f.name] for f in space.factors}
            cfg = apply_values(rc, space, values)
            for r, s in enumerate(seeds):
                spec: dict[str, Any] = {"config": cfg, "seed": int(s), "scenario": name,
                                        "future": k, "replication": r}
                spec.update({n: v.item() if isinstance(v, np.generic) else v
                             for n, v in values.items()})
                jobs.append(spec)
    return jobs


def stress_job(spec: dict[str, Any]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run one job with the simulator: its scalar outcomes and its monthly series.

    The study runner keeps the series of the first `timeseries_replications`
    replications in the result store, under the job's key.

    Args:
        spec: job spec (config, seed, tags).

    Returns:
        (flat dict of scalar outcomes, monthly series).
    """
    from experiments.study.jobs import run_job_with_series

    return run_job_with_series(spec)


# --------------------------------------------------------------------------- analysis


@dataclass
class StressResult:
    """Everything `analyse` derives from the run table.

    Attributes:
        outcomes: one row per scenario x future (replications averaged) + factor values.
        robustness: one row per scenario (see `experiments.stress.robustness.summarize`).
        best: the most robust scenario; reason: why, in one sentence.
        discovery: boxes, one row per scenario x box x factor.
        trajectories: peeling trajectories, one row per scenario x box x step.
        findings: plain-language sentences, one per box (or per scenario without box).
    """

    outcomes: pd.DataFrame
    robustness: pd.DataFrame
    best: str
    reason: str
    discovery: pd.DataFrame
    trajectories: pd.DataFrame
    findings: list[str]


def analyse(
    runs: pd.DataFrame, futures: pd.DataFrame, space: Space, settings: StressPlan
) -> StressResult:
    """Robustness and scenario discovery from a run table (pure: no files).

    Args:
        runs: one row per job (scenario, future, replication, outcomes, error).
        futures: the sampled futures (future + factor columns).
        space: the uncertainty space.
        settings: validated settings.

    Returns:
        The `StressResult`.
    """
    base = runs.drop(columns=[c for c in space.names if c in runs.columns])
    tidy = versus_reference(tidy_outcomes(base))
    tidy = tidy.merge(futures, on="future", how="left")
    order = {s: i for i, s in enumerate(settings.scenarios)}
    tidy = tidy.sort_values(
        ["scenario", "future"], key=lambda c: c.map(order) if c.name == "scenario" else c
    )
    tidy = tidy.reset_index(drop=True)
    robust = summarize(tidy, settings.thresholds, metrics_for(settings.thresholds, tidy.columns))
    best, reason = most_robust(robust, settings.criterion, settings.thresholds)
    boxes, trajs, findings = [], [], []
    for name in settings.discovery_scenarios:
        sub = tidy[tidy["scenario"] == name]
        sub = sub[sub[settings.failure.outcome].notna()] if settings.failure.outcome in sub else sub
        if sub.empty:
            continue
        failed = settings.failure.mask(sub).to_numpy()
        d = discover(sub[space.names], failed, **settings.discovery_options)
        t = d.table()
        t.insert(0, "scenario", name)
        boxes.append(t)
        tr = d.trajectories.copy()
        tr.insert(0, "scenario", name)
        trajs.append(tr)
        share = f"{d.base_rate:.0%} of {d.n} futures"
        if not d.boxes:
            findings.append(
                f"{name} fails ({settings.failure.describe()}) in {share}; "
                "no region of the space concentrates the failures."
                if 0 < d.failures < d.n
                else f"{name} fails ({settings.failure.describe()}) in {share}."
            )
        for b in d.boxes:
            findings.append(describe_box(b, d.ranges, name, settings.failure, space.labels()))
    disc = pd.concat(boxes, ignore_index=True) if boxes else pd.DataFrame()
    traj = pd.concat(trajs, ignore_index=True) if trajs else pd.DataFrame()
    return StressResult(tidy, robust, best, reason, disc, traj, findings)


# --------------------------------------------------------------------------- files


def write_summary(
    out: Path,
    cfg: Mapping[str, Any],
    overrides: Sequence[str],
    settings: StressPlan,
    space: Space,
    result: StressResult,
    seeds: Sequence[int],
    study: Mapping[str, Any] | None = None,
    uncertainty: str = "",
) -> Path:
    """Write summary.json: what the report needs besides the tables (settings, reason...)."""
    summary = {
        "uncertainty": uncertainty,
        "overrides": list(overrides),
        "scenarios": settings.scenarios,
        "futures": settings.futures,
        "replications": settings.replications,
        "sample_seed": settings.sample_seed,
        "seeds": list(map(int, seeds)),
        "thresholds": {
            "coverage_target": settings.thresholds.coverage_target,
            "gap_metric": settings.thresholds.gap_metric,
            "gap_tolerance": settings.thresholds.gap_tolerance,
        },
        "thresholds_text": settings.thresholds.describe(),
        "criterion": settings.criterion,
        "best": result.best,
        "reason": result.reason,
        "failure": settings.failure.describe(),
        "discovery_scenarios": settings.discovery_scenarios,
        "findings": result.findings,
        "space": {
            "name": space.name,
            "description": space.description,
            "factors": [f.as_dict() for f in space.factors],
            "shocks": list(space.shocks),
        },
        "gap_delta": float(cfg["model"]["gap_delta"]),  # configs/config.yaml: one default
        "handover_start": cfg.get("model", {}).get("handover_start"),
        "study": dict(study or {}),
        "config": dict(cfg),
    }
    return atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=str))


def format_table(robust: pd.DataFrame, thresholds: Thresholds) -> str:
    """Terminal table of the headline robustness columns."""
    g = thresholds.gap_metric
    cols = ["futures", "coverage_mean", "coverage_worst", "coverage_p05", "coverage_regret_max",
            f"{g}_mean", f"{g}_worst", f"{g}_p95", f"{g}_regret_max", "satisficing_share",
            "donor_spend_mean", "national_spend_mean"]
    cols = [c for c in cols if c in robust.columns]
    return robust[cols].to_string(float_format=lambda v: f"{v:.3g}")


# --------------------------------------------------------------------------- driver


def run_stress(
    overrides: Sequence[str] = (), job_fn: JobFn = stress_job, progress: bool = True
) -> tuple[Path, StressResult, int]:
    """Compose, validate, run, analyse and write a stress study (body of `handover stress`).

    Args:
        overrides: Hydra overrides for configs/stress.yaml.
        job_fn: job function (spec -> scalar outcomes); tests may pass a stand-in.
        progress: show progress bars.

    Returns:
        (output folder, result, number of failed runs).

    Raises:
        ConfigError: invalid configuration (raised before anything is written).
    """
    from experiments.study.runner import run_study

    overrides = list(overrides)
    started = utc_now()
    cfg, validated = load_settings("stress", overrides)
    settings = stress_plan(validated)
    space = stress_space(cfg.get("stress"))
    executor_cfg = cfg.get("executor")
    futures = sample_futures(space, settings.futures, settings.sample_seed)
    run_configs = {
        name: run_config(compose("stress", [*overrides, f"scenario={name}"]))
        for name in settings.scenarios
    }
    out = resolve_output_dir(cfg, "stress")
    seeds = replication_seeds(cfg["seed"], settings.replications)
    jobs = build_jobs(run_configs, space, futures, seeds)
    from experiments.calibrate.posterior import apply_posterior, uncertainty_note

    posterior = apply_posterior(jobs, cfg.get("posterior"), cfg["seed"], settings.replications,
                                avoid=[f.path for f in space.factors])
    # every scenario as given (also values the futures replace), then in every future
    validate_jobs([{"config": rc, "scenario": n} for n, rc in run_configs.items()], ("scenario",))
    validate_jobs(jobs, ("scenario", "future"))
    check_discovery(settings.discovery_options)
    keep = [j["replication"] < settings.timeseries_replications for j in jobs]
    with study_lock(out):  # refused before any file is written if another study holds it
        runs = run_study(jobs, job_fn, out, executor_cfg, label="stress", progress=progress,
                         keep_series=keep)
        write_csv_atomic(futures, out / "futures.csv")  # once runs exist: a refused study leaves none
        return _finish(out, cfg, overrides, settings, space, futures, seeds, runs,
                       uncertainty_note(posterior), started)


def _finish(out, cfg, overrides, settings, space, futures, seeds, runs, note, started=None):
    """Analyse a finished stress run table and write the tables, figures and report."""
    failed = int(runs["error"].notna().sum())
    result = analyse(runs, futures, space, settings)
    write_csv_atomic(result.outcomes, out / "outcomes.csv")
    write_csv_atomic(result.robustness, out / "robustness.csv", index=True)
    write_csv_atomic(result.discovery, out / "discovery.csv")
    write_csv_atomic(result.trajectories, out / "trajectories.csv")
    series = load_series(out, runs, ("scenario", "future", "replication"))
    if not series.empty:
        write_parquet_atomic(series, out / "timeseries.parquet")
    else:  # never leave another study's series next to this one's tables
        (out / "timeseries.parquet").unlink(missing_ok=True)
    write_summary(out, cfg, overrides, settings, space, result, seeds, runs.attrs.get("study"),
                  note)
    write_manifest(out, manifest(
        cfg, int(cfg["seed"]), "stress", seeds=seeds, started_utc=started,
        counts={"runs": len(runs), "failed": failed, "scenarios": len(settings.scenarios),
                "futures": settings.futures, "replications": settings.replications},
        overrides=overrides, sample_seed=settings.sample_seed, uncertainty=note,
        space={"name": space.name, "factors": [f.as_dict() for f in space.factors]},
        study=runs.attrs.get("study", {})))
    from experiments.stress.plots import build_report

    build_report(out)
    print(format_table(result.robustness, settings.thresholds))
    print()
    print(result.reason)
    for line in result.findings:
        print(f"- {line}")
    print(f"\nwrote {out}/robustness.csv, discovery.csv, futures.csv, runs.parquet, report.html")
    return out, result, failed


def main(overrides: list[str]) -> int:
    """`handover stress [overrides]`: exit status 0, 1 if any run failed, 2 on bad input."""
    _, _, failed = run_stress(overrides)
    if failed:
        print(f"error: {failed} run(s) failed; see runs.parquet (error column)", file=sys.stderr)
        return 1
    return 0
