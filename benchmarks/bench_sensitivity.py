"""Benchmark (not a test): a Sobol study of the simulator on the default space.

Runs `handover sensitivity` at a reduced scale (few base samples, coarse `model.scale`)
twice, with n/2 and n base samples, prints wall time and runs per second, and projects the
time of a full study with N = 1024 base samples and D = 20 factors (N * (D + 2) = 22,528
runs per replication, first and total order only) on the same executor. A study pays a
fixed cost once (starting the pool, the analysis and figures) and a cost per run: the line
time = fixed + per-run x runs is fitted through the two studies, and the full study is
projected from it (the analysis of the full study is larger than the small one's; it is
counted at the small one's size). Target: projection <= 1 hour on 2 cores.

    .venv/bin/python benchmarks/bench_sensitivity.py                    # defaults below
    .venv/bin/python benchmarks/bench_sensitivity.py --n 16 --scale 50 --executor processes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.space import load_space  # noqa: E402
from experiments.sensitivity.driver import run_sensitivity  # noqa: E402


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def fit_line(n_small: int, t_small: float, n_big: int, t_big: float) -> tuple[float, float]:
    """(fixed, per run) of the line time = fixed + per_run x runs through two measurements."""
    per_run = (t_big - t_small) / (n_big - n_small)
    return t_small - per_run * n_small, per_run


def study(args: argparse.Namespace, n: int) -> dict[str, float]:
    """Run one Sobol study with `n` base samples from an empty folder and measure it.

    Returns:
        runs, wall and CPU seconds (this process and its workers), seconds spent running
        the model (from the manifest) and the exit status.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sa"
        overrides = [
            "method=sobol", f"n={n}", f"replications={args.replications}",
            f"model.scale={args.scale}", f"model.horizon_months={args.horizon}",
            f"executor={args.executor}", f"output_dir={out}", "num_resamples=100",
        ]
        if args.executor != "serial":
            overrides.append(f"executor.workers={args.workers}")
        start, cpu0 = time.perf_counter(), _cpu_seconds()
        status = run_sensitivity(overrides)
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu0
        manifest = json.loads((out / "manifest.json").read_text())
    return {"runs": manifest["counts"]["runs"], "wall_s": wall, "cpu_s": cpu,
            "eval_s": manifest["eval_seconds"], "status": status}


def main() -> int:
    """Run the benchmark and print its figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8, help="Sobol base samples (power of two)")
    ap.add_argument("--scale", type=int, default=50, help="model.scale (people per agent)")
    ap.add_argument("--horizon", type=int, default=120, help="model.horizon_months")
    ap.add_argument("--replications", type=int, default=1)
    ap.add_argument("--executor", default="processes", choices=["serial", "processes", "dask"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full-n", type=int, default=1024, help="N of the projected study")
    ap.add_argument("--full-d", type=int, default=20, help="D of the projected study")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()

    d = len(load_space("default").factors)
    half, full = study(args, max(args.n // 2, 1)), study(args, args.n)
    fixed_wall, run_wall = fit_line(half["runs"], half["wall_s"], full["runs"], full["wall_s"])
    fixed_cpu, run_cpu = fit_line(half["runs"], half["cpu_s"], full["runs"], full["cpu_s"])
    full_runs = args.full_n * (args.full_d + 2) * args.replications
    workers = args.workers if args.executor != "serial" else 1
    projected = fixed_wall + run_wall * full_runs
    cpu_projected = (fixed_cpu + run_cpu * full_runs) / workers  # on `workers` otherwise idle cores
    print()
    print(f"benchmark: Sobol on the default space (D={d}), n={args.n // 2} and {args.n}, "
          f"scale={args.scale}, horizon={args.horizon}, replications={args.replications}, "
          f"executor={args.executor} x {workers}, cores visible={os.cpu_count()}")
    for label, r in (("half", half), ("full", full)):
        print(f"  {label} study           {r['runs']} runs in {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU "
              f"(model runs {r['eval_s']:.1f} s)")
    print(f"  fitted                 fixed {fixed_wall:.1f} s wall, {fixed_cpu:.1f} s CPU; per run "
          f"{run_wall:.3f} s wall, {run_cpu:.3f} s CPU")
    print(f"  projected N={args.full_n}, D={args.full_d} ({full_runs} runs): "
          f"{projected / 60:.1f} min  (target <= 60 min: "
          f"{'met' if projected <= 3600 else 'NOT met'})")
    print(f"  projected on {workers} idle core(s) from CPU time: {cpu_projected / 60:.1f} min "
          f"(read this one on a loaded machine; load average now {os.getloadavg()[0]:.1f})")
    if args.json:
        args.json.write_text(json.dumps({
            "runs": full["runs"], "wall_s": full["wall_s"], "fixed_wall_s": fixed_wall,
            "wall_per_run_s": run_wall, "fixed_cpu_s": fixed_cpu, "cpu_per_run_s": run_cpu,
            "full_runs": full_runs, "projected_min": projected / 60,
            "projected_idle_min": cpu_projected / 60}, indent=2))
    return max(half["status"], full["status"])


if __name__ == "__main__":
    sys.exit(main())
