"""Benchmark (not a test): a Sobol study of the simulator on the default space.

Runs `handover sensitivity` at a reduced scale (few base samples, coarse `model.scale`),
prints wall time and runs per second, and projects the time of a full study with
N = 1024 base samples and D = 20 factors (N * (D + 2) = 22,528 runs per replication,
first and total order only) on the same executor. Target: projection <= 1 hour on 2 cores.

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
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sa"
        overrides = [
            "method=sobol", f"n={args.n}", f"replications={args.replications}",
            f"model.scale={args.scale}", f"model.horizon_months={args.horizon}",
            f"executor={args.executor}", f"output_dir={out}", "num_resamples=100",
        ]
        if args.executor != "serial":
            overrides.append(f"executor.workers={args.workers}")
        start = time.perf_counter()
        cpu0 = _cpu_seconds()
        status = run_sensitivity(overrides)
        wall = time.perf_counter() - start
        cpu = _cpu_seconds() - cpu0
        manifest = json.loads((out / "manifest.json").read_text())
    runs = manifest["counts"]["runs"]
    rate = runs / wall
    eval_rate = runs / manifest["eval_seconds"]  # excludes compose, analysis and figures
    full_runs = args.full_n * (args.full_d + 2) * args.replications
    projected = full_runs / eval_rate
    workers = args.workers if args.executor != "serial" else 1
    cpu_projected = full_runs * cpu / runs / workers  # on `workers` otherwise idle cores
    print()
    print(f"benchmark: Sobol on the default space (D={d}), n={args.n}, "
          f"scale={args.scale}, horizon={args.horizon}, replications={args.replications}, "
          f"executor={args.executor} x {args.workers if args.executor != 'serial' else 1}, "
          f"cores visible={os.cpu_count()}")
    print(f"  runs                 {runs}")
    print(f"  wall time            {wall:.1f} s "
          f"(of which model runs {manifest['eval_seconds']:.1f} s)")
    print(f"  runs per second      {rate:.2f} overall, {eval_rate:.2f} while running the model")
    print(f"  projected N={args.full_n}, D={args.full_d} ({full_runs} runs): "
          f"{projected / 60:.1f} min  (target <= 60 min: "
          f"{'met' if projected <= 3600 else 'NOT met'})")
    print(f"  CPU time per run     {cpu / runs:.3f} s (this process and its workers; "
          f"load average now {os.getloadavg()[0]:.1f})")
    print(f"  projected on {workers} idle core(s) from CPU time: {cpu_projected / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps({
            "runs": runs, "wall_s": wall, "eval_s": manifest["eval_seconds"], "runs_per_s": eval_rate,
            "full_runs": full_runs, "projected_min": projected / 60, "cpu_per_run_s": cpu / runs,
            "projected_idle_min": cpu_projected / 60}, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
