"""`handover validate`: the model against its profile's targets.

Usage::

    handover validate                                  # default profile, 10 replications
    handover validate country=tunisia_like strict=true replications=20
    handover validate posterior=outputs/calibrate/<stamp>   # parameter sets of a calibration

Runs R replications of the targets file's scenario (status quo by default), computes every
target's statistic in each, and writes to `output_dir`: validation.csv (target, source,
value, acceptance interval, simulated mean and interval, within tolerance), validation.png,
runs.parquet (one row per replication) and manifest.json. Exit 0; with `strict=true`, exit 1
when a target is missed. Targets and statistics: docs/calibration.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from experiments.calibrate.jobs import target_job, with_statistics
from experiments.calibrate.targets import TargetSet, load_targets
from experiments.config import (
    ConfigError,
    compose,
    require_fraction,
    require_int,
    require_seed,
    run_config,
)
from experiments.study.atomic import write_csv_atomic
from experiments.study.outputs import manifest, resolve_output_dir, utc_now, write_manifest
from experiments.study.runner import replication_seeds, run_study, study_failed
from experiments.study.store import study_lock
from experiments.validation import validate_jobs


def require_flag(cfg: dict[str, Any], key: str, default: bool) -> bool:
    """A true/false setting.

    Raises:
        ConfigError: "<key>: must be true or false, got <value>".
    """
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false, got {value!r}")
    return value


def optional_text(cfg: dict[str, Any], key: str, what: str) -> str | None:
    """A setting that is null or a string (a name or a path).

    Raises:
        ConfigError: "<key>: <what>, got <value>".
    """
    value = cfg.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{key}: {what}, got {value!r}")
    return value


def parse_settings(cfg: dict[str, Any]) -> dict[str, Any]:
    """Validate the validate-specific keys of a composed config.

    Raises:
        ConfigError: naming the field and what is allowed.
    """
    require_seed(cfg)
    return {"replications": require_int(cfg, "replications", 2),
            "strict": require_flag(cfg, "strict", False),
            "level": float(require_fraction(cfg, "level", default=0.9)),
            "posterior": optional_text(cfg, "posterior", "a folder written by handover calibrate")}


def prepare(overrides: Sequence[str], config_name: str = "validate"
            ) -> tuple[dict[str, Any], TargetSet, dict[str, Any]]:
    """Compose the targets and the run they need, writing nothing.

    The targets file's `run` block (scenario, overrides) comes first; the user's overrides
    win over it. Used by validate and calibrate; each then checks every run it will make
    with `experiments.validation.validate_jobs`, the pass all commands share.

    Returns:
        (composed config, target set, run configuration).
    """
    overrides = list(overrides)
    cfg = compose(config_name, overrides)
    name = optional_text(cfg, "target_file", "a profile name or a path to a targets file")
    targets = load_targets(name or cfg["country"]["name"])
    cfg = compose(config_name, [f"scenario={targets.scenario}", *targets.overrides, *overrides])
    return cfg, targets, run_config(cfg)


def summarise(targets: TargetSet, runs: pd.DataFrame, level: float) -> pd.DataFrame:
    """One row per target: value, acceptance interval, simulated mean and interval, met.

    The simulated interval holds the central `level` share of the replications' values.
    """
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    rows = []
    for t in targets.targets:
        sim = pd.to_numeric(runs[t.name], errors="coerce").dropna() if t.name in runs else pd.Series([], dtype=float)
        mean = float(sim.mean()) if len(sim) else np.nan
        rows.append({
            "target": t.name, "source": t.source, "value": t.value, "low": t.low, "high": t.high,
            "simulated_mean": mean,
            "simulated_low": float(sim.quantile(lo_q)) if len(sim) else np.nan,
            "simulated_high": float(sim.quantile(hi_q)) if len(sim) else np.nan,
            "replications": int(len(sim)), "fitted": t.fit,
            "within_tolerance": "yes" if t.met(mean) else "no",
        })
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    """The validation table as aligned text."""
    def num(x: float) -> str:
        if x != x:
            return "n/a"
        return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"

    lines = [f"{'target':<28} {'value':>9} {'accepted':>19} {'simulated mean [interval]':>30}  ok   source"]
    for r in table.itertuples():
        accepted = f"[{num(r.low)}, {num(r.high)}]"
        simulated = f"{num(r.simulated_mean)} [{num(r.simulated_low)}, {num(r.simulated_high)}]"
        lines.append(f"{r.target:<28} {num(r.value):>9} {accepted:>19} {simulated:>30}  "
                     f"{r.within_tolerance:<4} {r.source}")
    return "\n".join(lines)


def plot_validation(table: pd.DataFrame, path: Path, title: str) -> None:
    """One row per target on a common scale: acceptance interval = [-1, 1] around its centre."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centre = (table["low"] + table["high"]) / 2
    half = ((table["high"] - table["low"]) / 2).clip(lower=1e-12)
    z = lambda col: (table[col] - centre) / half  # noqa: E731 - local scale change
    y = np.arange(len(table))[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(table) + 1.6))
    ax.axvspan(-1, 1, color="tab:green", alpha=0.15, label="accepted (target ± tolerance)")
    ax.plot(z("value"), y, "k|", markersize=14, label="target value")
    ok = table["within_tolerance"] == "yes"
    for mask, colour, label in ((ok, "tab:blue", "simulated, within"), (~ok, "tab:red", "simulated, missed")):
        if mask.any():
            ax.errorbar(z("simulated_mean")[mask], y[mask.to_numpy()],
                        xerr=[(z("simulated_mean") - z("simulated_low"))[mask].clip(lower=0),
                              (z("simulated_high") - z("simulated_mean"))[mask].clip(lower=0)],
                        fmt="o", color=colour, capsize=3, label=label)
    ax.set_yticks(y, table["target"])
    ax.set_xlabel("(simulated - centre of accepted interval) / half-width of accepted interval")
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_jobs(config: dict[str, Any], targets: TargetSet, seed: int, replications: int
               ) -> list[dict[str, Any]]:
    """One job per replication, each computing every target's statistic."""
    cfg = with_statistics(config, targets.statistics)
    return [{"config": cfg, "seed": s, "replication": r}
            for r, s in enumerate(replication_seeds(seed, replications))]


def main(overrides: list[str]) -> int:
    """Entry point of `handover validate`; returns the exit status."""
    from experiments.calibrate.posterior import apply_posterior
    from experiments.study.executors import parse_executor

    started = utc_now()
    cfg, targets, config = prepare(overrides)
    settings = parse_settings(cfg)
    parse_executor(cfg.get("executor"))
    out = resolve_output_dir(cfg, "validate")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output_dir: '{out}' is a file, not a folder")
    jobs = build_jobs(config, targets, cfg["seed"], settings["replications"])
    posterior = apply_posterior(jobs, settings["posterior"], cfg["seed"], settings["replications"])
    validate_jobs(jobs, ("replication", "parameter_set"))  # every run, before any file
    print(f"handover validate: country={config['country']['name']} scenario={config['scenario']['name']} "
          f"targets={targets.source} R={settings['replications']}"
          + (f" posterior={settings['posterior']}" if posterior is not None else ""))
    with study_lock(out):  # one study per folder; refused runs leave nothing
        runs = run_study(jobs, target_job, out, cfg.get("executor"), label="validate")
        table = summarise(targets, runs, settings["level"])
        write_csv_atomic(table, out / "validation.csv")
        plot_validation(table, out / "validation.png",
                        f"{config['country']['name']}: model vs targets (R={settings['replications']})")
        write_manifest(out, manifest(
            cfg, int(cfg["seed"]), "validate", seeds=[j["seed"] for j in jobs], started_utc=started,
            counts={"runs": len(runs), "failed": study_failed(runs), "targets": len(table),
                    "missed": int((table["within_tolerance"] == "no").sum())},
            study=runs.attrs.get("study", {})))
        print(format_table(table))
        missed = int((table["within_tolerance"] == "no").sum())
        print(f"\n{len(table) - missed} of {len(table)} targets within tolerance; "
              f"wrote {out}/: validation.csv validation.png runs.parquet manifest.json")
        if study_failed(runs):
            print(f"warning: {study_failed(runs)} run(s) failed; see runs.parquet")
            return 1
        return 1 if (settings["strict"] and missed) else 0
