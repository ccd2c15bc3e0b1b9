"""Benchmark (not a test): projected time of a gap-focused stress study.

The study benchmarked is the library's scenarios x 50 futures x 2 replications at 1:2 on
the default profile (`handover stress futures=50 replications=2 model.scale=2`). Its jobs
are built exactly as `handover stress` builds them; a subset of whole spin-up groups (every
scenario of a future and replication, groups evenly spaced over the futures) is run with
the chosen executor through `run_study`, and the full study's time is projected from it.
Monthly series are not kept (the projection is of the model runs; analysis and figures
take seconds). A study pays a fixed cost once (starting the pool: each worker imports the
project and loads the compiled kernels) and a cost per run. With a small subset the fixed
cost would be counted as if every run paid a share of it, so the subset is run twice, at
half and at full size (the half is every other job of the full subset: the same mix), and
time = fixed + per-run x runs is fitted through the two; the full study is projected from
that line. Both wall and CPU time (this process and its workers) are fitted; on a shared
machine read the CPU projection (the CPU seconds spread over the workers as if the cores
were idle). Target: <= 15 minutes on 2 cores with the processes executor.

    .venv/bin/python benchmarks/bench_stress.py                 # ~40 jobs on 2 processes
    .venv/bin/python benchmarks/bench_stress.py --jobs 90 --scale 2 --futures 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.config import compose, run_config  # noqa: E402
from experiments.settings import load_settings  # noqa: E402
from experiments.stress.driver import build_jobs, sample_futures, stress_job, stress_plan, stress_space  # noqa: E402
from experiments.study.jobs import spinup_group  # noqa: E402
from experiments.study.runner import replication_seeds, run_study  # noqa: E402

from bench_sensitivity import _cpu_seconds, fit_line  # noqa: E402  (benchmarks/ is on sys.path)

#: Target wall time of the full study (minutes, 2 cores).
TARGET_MIN = 15.0


def study_jobs(futures: int, replications: int, scale: int, extra: list[str]) -> list[dict[str, Any]]:
    """Every job of the stress study, as `handover stress` builds them (no series kept)."""
    overrides = [f"futures={futures}", f"replications={replications}", f"model.scale={scale}", *extra]
    cfg, validated = load_settings("stress", overrides)
    settings = stress_plan(validated)
    space = stress_space(cfg.get("stress"))
    table = sample_futures(space, settings.futures, settings.sample_seed)
    configs = {name: run_config(compose("stress", [*overrides, f"scenario={name}"]))
               for name in settings.scenarios}
    return build_jobs(configs, space, table, replication_seeds(cfg["seed"], settings.replications))


def _measure(jobs: list[dict[str, Any]], cfg: dict[str, Any], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of a study of `jobs` from an empty store (pool start-up included)."""
    start, cpu0 = time.perf_counter(), _cpu_seconds()
    runs = run_study(jobs, stress_job, out, cfg, label="bench", progress=False)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
    failed = int(runs["error"].notna().sum())
    if failed:
        raise RuntimeError(f"{failed} benchmark run(s) failed: {runs['error'].dropna().iloc[0]}")
    return wall, cpu


def whole_groups(jobs: list[dict[str, Any]], n_jobs: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """About `n_jobs` jobs made of whole spin-up groups (every scenario of a future and
    replication: `spinup_group`), the groups evenly spaced over the study, and the same
    with every other group. A subset of scattered jobs would share no spin-up, while the
    full study reuses each one across its scenarios."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        groups.setdefault(spinup_group(job), []).append(job)
    ordered = list(groups.values())
    n_groups = max(round(n_jobs / len(ordered[0])), 2)
    step = max(len(ordered) // n_groups, 1)
    chosen = ordered[::step][:n_groups]
    return [j for g in chosen for j in g], [j for g in chosen[::2] for j in g]


def project(n_jobs: int, futures: int, replications: int, scale: int, executor: str, workers: int,
            extra: list[str] | None = None) -> dict[str, float]:
    """Run a subset of whole spin-up groups (and every other group of it) and project
    the full study's time from the fitted fixed and per-run costs.

    Returns:
        jobs in the study and in the subset, the subset's wall seconds and runs per second,
        the fitted fixed and per-run wall and CPU seconds, and the projected minutes of the
        full study (wall, and CPU spread over the workers).
    """
    jobs = study_jobs(futures, replications, scale, extra or [])
    subset, half = whole_groups(jobs, n_jobs)
    cfg = {"kind": executor} if executor == "serial" else {"kind": executor, "workers": workers}
    with tempfile.TemporaryDirectory() as tmp:
        wall_half, cpu_half = _measure(half, cfg, Path(tmp) / "half")
        wall, cpu = _measure(subset, cfg, Path(tmp) / "full")
    fixed_wall, run_wall = fit_line(len(half), wall_half, len(subset), wall)
    fixed_cpu, run_cpu = fit_line(len(half), cpu_half, len(subset), cpu)
    n_cores = 1 if executor == "serial" else workers
    return {"study_jobs": len(jobs), "subset_jobs": len(subset), "subset_wall_s": wall,
            "runs_per_s": len(subset) / wall,
            "fixed_wall_s": fixed_wall, "wall_per_run_s": run_wall,
            "fixed_cpu_s": fixed_cpu, "cpu_per_run_s": run_cpu,
            "subset_cpu_per_run_s": cpu / len(subset),
            "projected_min": (fixed_wall + run_wall * len(jobs)) / 60,
            "projected_idle_min": (fixed_cpu + run_cpu * len(jobs)) / n_cores / 60}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40, help="jobs in the measured subset")
    ap.add_argument("--futures", type=int, default=50)
    ap.add_argument("--replications", type=int, default=2)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--executor", default="processes", choices=["serial", "processes", "dask"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Hydra override of configs/stress.yaml (repeatable)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    load = os.getloadavg()[0]
    r = project(args.jobs, args.futures, args.replications, args.scale, args.executor, args.workers,
                args.set)
    print(f"bench_stress: library scenarios x {args.futures} futures x {args.replications} "
          f"replications at 1:{args.scale}, executor {args.executor} x {args.workers}")
    print(f"  study jobs                 {r['study_jobs']}")
    print(f"  measured subset            {r['subset_jobs']} jobs in {r['subset_wall_s']:.1f} s "
          f"({r['runs_per_s']:.2f} runs/s; CPU {r['subset_cpu_per_run_s']:.2f} s a run, start-up included)")
    print(f"  fitted (half and full subset)  fixed {r['fixed_wall_s']:.1f} s wall, {r['fixed_cpu_s']:.1f} s CPU; "
          f"per run {r['wall_per_run_s']:.2f} s wall, {r['cpu_per_run_s']:.2f} s CPU")
    print(f"  projected full study       {r['projected_min']:.1f} min  (target <= {TARGET_MIN:.0f} min: "
          f"{'met' if r['projected_min'] <= TARGET_MIN else 'NOT met'})")
    print(f"  projected on {args.workers if args.executor != 'serial' else 1} idle core(s) from CPU time: "
          f"{r['projected_idle_min']:.1f} min (read this one on a loaded machine)")
    print(f"  load average before/after  {load:.1f} / {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
