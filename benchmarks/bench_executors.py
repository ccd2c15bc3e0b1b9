"""Benchmark of the executor layer (run by hand, not a test).

Runs one study of N short runs with `serial`, `processes` (W workers) and `dask`
(LocalCluster, W workers) and prints runs per minute and parallel efficiency
(speed-up over serial / W). Wall times include starting the executor (spawning the worker
processes, starting the cluster), and every study starts from an empty result store. A last
row runs the dask study on an already running (warmed-up) cluster, as on a real cluster.
`busy` is the share of worker time spent inside the job function: it separates scheduling
overhead from CPU contention (the machine's load average is printed before and after).

Usage::

    .venv/bin/python benchmarks/bench_executors.py                 # 200 runs, 2 workers
    .venv/bin/python benchmarks/bench_executors.py --runs 400 --workers 2 --toy
    .venv/bin/python benchmarks/bench_executors.py --repeat 3   # best of 3 (shared machines)

With the simulator available (`experiments.study.jobs.run_job`), runs are real simulations at a
short horizon and coarse scale (`--horizon`, `--scale`); `--toy` (or no simulator) uses a
CPU-bound stand-in of similar duration.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from experiments.study.runner import replication_seeds, run_study


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
        from experiments.study.jobs import run_job  # noqa: F401
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
    parser.add_argument("--horizon", type=int, default=120)
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--steps", type=int, default=15000, help="toy run length")
    parser.add_argument("--toy", action="store_true", help="use the CPU-bound stand-in")
    parser.add_argument("--kinds", default="serial,processes,dask")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds; the best (shortest) wall time of each executor is kept")
    args = parser.parse_args()

    jobs = None if args.toy else real_jobs(args.runs, args.horizon, args.scale)
    if jobs is None:
        fn = toy_run
        jobs = [{"config": {"steps": args.steps}, "seed": s, "replication": r}
                for r, s in enumerate(replication_seeds(1, args.runs))]
        what = f"toy CPU-bound runs ({args.steps} steps)"
    else:
        from experiments.study.jobs import run_job as fn

        what = f"simulator runs (horizon {args.horizon} months, scale {args.scale})"
    print(f"{len(jobs)} {what}; {args.workers} workers")

    print(f"load average before: {os.getloadavg()[0]:.2f} (machine has {os.cpu_count()} cores)")
    best: dict[str, tuple] = {}
    tables = {}
    kinds = args.kinds.split(",")
    for round_ in range(args.repeat):
        for kind in kinds + (["dask (running cluster)"] if "dask" in kinds else []):
            if kind == "dask (running cluster)":
                row = _dask_running_cluster(jobs, fn, args.workers)
            else:
                cfg = {"kind": kind, "workers": 1 if kind == "serial" else args.workers}
                with tempfile.TemporaryDirectory() as tmp:
                    start = time.perf_counter()
                    table = run_study(jobs, fn, Path(tmp), cfg, label=kind, progress=False)
                    wall = time.perf_counter() - start
                    busy = _busy_seconds(Path(tmp), table.attrs["study"]["version"])
                assert table["error"].isna().all(), table["error"].dropna().iloc[0]
                tables[kind] = table
                row = (kind, 1 if kind == "serial" else args.workers, wall, busy)
            print(f"  round {round_ + 1}: {kind:<22} {row[2]:6.1f} s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
            if kind not in best or row[2] < best[kind][2]:
                best[kind] = row
    rows = list(best.values())
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    base = next((wall for kind, _, wall, _ in rows if kind == "serial"), None)
    print(f"\n{'executor':<22} {'workers':>7} {'wall s':>7} {'runs/min':>9} {'speed-up':>9} "
          f"{'efficiency':>10} {'busy':>6}")
    for kind, w, wall, busy in rows:
        rate = len(jobs) / wall * 60
        speed = base / wall if base else float("nan")
        # busy: share of worker time spent inside job functions (scheduling efficiency)
        print(f"{kind:<22} {w:>7} {wall:>7.1f} {rate:>9.0f} {speed:>9.2f} {speed / w:>10.0%} "
              f"{busy / (wall * w):>6.0%}")
    ref = next(iter(tables.values()))
    same = all(t.equals(ref) for t in tables.values())
    print(f"\nidentical result tables across executors: {same}")


def _busy_seconds(out: Path, version: str) -> float:
    """Sum of the job run times recorded in a study's store."""
    from experiments.study.store import ResultStore

    rows = ResultStore(out / "store", version).load().values()
    return float(sum(r["seconds"] for r in rows))


def _dask_running_cluster(jobs, fn, workers):
    """The dask study again on an already running LocalCluster (cluster start excluded)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}) as lc:
        cfg = {"kind": "dask", "address": lc.scheduler_address}
        # warm the workers up (imports), as a long-running cluster would be
        run_study(jobs[:workers], fn, Path(tempfile.mkdtemp()), cfg, progress=False)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            table = run_study(jobs, fn, Path(tmp), cfg, label="dask-running", progress=False)
            wall = time.perf_counter() - start
            busy = _busy_seconds(Path(tmp), table.attrs["study"]["version"])
    return ("dask (running cluster)", workers, wall, busy)


if __name__ == "__main__":
    main()
