"""Benchmark of the executor layer (run by hand, not a test).

Runs one study of N short runs with `serial`, `processes` (W workers) and `dask`
(LocalCluster, W workers) and prints runs per minute and parallel efficiency
(speed-up over serial / W). Wall times include starting the executor (spawning the worker
processes, starting the cluster), and every study starts from an empty result store.

Usage::

    .venv/bin/python benchmarks/bench_executors.py                 # 200 runs, 2 workers
    .venv/bin/python benchmarks/bench_executors.py --runs 400 --workers 2 --toy

With the simulator available (`experiments.jobs.run_job`), runs are real simulations at a
short horizon and coarse scale (`--horizon`, `--scale`); `--toy` (or no simulator) uses a
CPU-bound stand-in of similar duration.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.study import replication_seeds, run_study


def toy_run(spec: dict) -> dict:
    """CPU-bound stand-in for a short simulation (pure Python + small numpy steps)."""
    rng = np.random.default_rng(int(spec["seed"]))
    steps = int(spec["config"]["steps"])
    state = rng.random(64)
    total = 0.0
    for _ in range(steps):
        state = np.tanh(state * 1.3 + rng.standard_normal(64) * 0.1)
        total += float(state.sum()) * 1e-3
        for _ in range(60):
            total = (total * 1.0000001) % 1e6
    return {"coverage": float(state.mean()), "dropped_cases": total}


def real_jobs(n: int, horizon: int, scale: int) -> list[dict] | None:
    """Job specs for the real simulator, or None when it is not available yet."""
    try:
        from experiments.config import compose, run_config
        from experiments.jobs import run_job  # noqa: F401
    except ImportError:
        return None
    overrides = [f"model.horizon_months={horizon}", f"model.scale={scale}"]
    rc = run_config(compose("sweep", overrides))
    return [{"config": rc, "seed": s, "replication": r}
            for r, s in enumerate(replication_seeds(1, n))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--horizon", type=int, default=48)
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--steps", type=int, default=15000, help="toy run length")
    parser.add_argument("--toy", action="store_true", help="use the CPU-bound stand-in")
    parser.add_argument("--kinds", default="serial,processes,dask")
    args = parser.parse_args()

    jobs = None if args.toy else real_jobs(args.runs, args.horizon, args.scale)
    if jobs is None:
        fn = toy_run
        jobs = [{"config": {"steps": args.steps}, "seed": s, "replication": r}
                for r, s in enumerate(replication_seeds(1, args.runs))]
        what = f"toy CPU-bound runs ({args.steps} steps)"
    else:
        from experiments.jobs import run_job as fn

        what = f"simulator runs (horizon {args.horizon} months, scale {args.scale})"
    print(f"{len(jobs)} {what}; {args.workers} workers")

    results = {}
    tables = {}
    for kind in args.kinds.split(","):
        cfg = {"kind": kind} if kind == "serial" else {"kind": kind, "workers": args.workers}
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            table = run_study(jobs, fn, Path(tmp), cfg, label=kind, progress=False)
            wall = time.perf_counter() - start
        assert table["error"].isna().all(), table["error"].dropna().iloc[0]
        results[kind] = wall
        tables[kind] = table
    base = results.get("serial")
    print(f"\n{'executor':<10} {'workers':>7} {'wall s':>8} {'runs/min':>9} {'speed-up':>9} {'efficiency':>10}")
    for kind, wall in results.items():
        w = 1 if kind == "serial" else args.workers
        rate = len(jobs) / wall * 60
        if base:
            speed = base / wall
            print(f"{kind:<10} {w:>7} {wall:>8.1f} {rate:>9.0f} {speed:>9.2f} {speed / w:>9.0%}")
        else:
            print(f"{kind:<10} {w:>7} {wall:>8.1f} {rate:>9.0f}")
    ref = next(iter(tables.values()))
    same = all(t.equals(ref) for t in tables.values())
    print(f"\nidentical result tables across executors: {same}")


if __name__ == "__main__":
    main()
