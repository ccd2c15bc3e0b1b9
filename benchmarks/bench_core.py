"""Benchmark of the simulator core at 1:1 scale (run by hand, not a test).

Runs a 120-month `nigeria_like` / `status_quo` simulation with one agent per person
(`model.scale=1`) and prints:

- wall time of `sim.run` (median of `--reps` repetitions; config composition excluded),
- peak memory: tracemalloc peak during one extra run (numpy arrays are traced) and the
  process's maximum resident set size after the first run (and before it, for reference),
- returnee-months simulated = sum over months of active returnee agents (the time series'
  `active` column is in persons; divided by the scale it counts agents), returnee-months
  per second and microseconds per returnee-month,
- the peak number of active returnees,
- a *bare numpy pass* measured in the same process: arrays as long as the peak active
  population, a few elementwise operations and one random draw per element, repeated for
  as many months as the model ran; and the ratio model / bare.

The target (DESIGN.md, performance shape) is <= 0.5 us per returnee-month with >= 100,000
active returnees; the script prints whether this run meets it. `nigeria_like` peaks near
83,500 active returnees at 1:1, so add `country.arrivals.monthly_mean=3600` to reach the
100,000 mark.

Usage::

    .venv/bin/python benchmarks/bench_core.py                       # 3 reps + memory run
    .venv/bin/python benchmarks/bench_core.py --reps 1 --profile 15 # + cProfile top 15
    .venv/bin/python benchmarks/bench_core.py --set country.arrivals.monthly_mean=3600
    .venv/bin/python benchmarks/bench_core.py --json /tmp/bench_core.json

The machine is shared: the load average is printed before and after, and CPU time is
shown next to wall time, so that a slow number can be read in context.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from experiments.config import compose, run_config  # noqa: E402
from experiments.study.jobs import simulate  # noqa: E402

#: Target cost of one returnee-month (microseconds) and the population it must hold at.
TARGET_US = 0.5
TARGET_ACTIVE = 100_000


def bench_config(country: str, scenario: str, horizon: int, scale: int,
                 extra: list[str] | None = None) -> dict[str, Any]:
    """The run configuration benchmarked (Hydra composition of configs/config.yaml).

    Args:
        country: country profile name (configs/country).
        scenario: scenario name (configs/scenario).
        horizon: months simulated.
        scale: persons per returnee agent.
        extra: further Hydra overrides, e.g. ``["country.arrivals.monthly_mean=3600"]``.

    Returns:
        The plain run configuration (model, country, scenario).
    """
    overrides = [f"country={country}", f"scenario={scenario}", f"model.horizon_months={horizon}",
                 f"model.scale={scale}", *(extra or [])]
    return run_config(compose("config", overrides))


def time_model(config: dict[str, Any], seed: int) -> dict[str, float]:
    """Run the model once and measure it.

    Args:
        config: run configuration.
        seed: the run's seed.

    Returns:
        wall and CPU seconds, returnee-months (agent-months), peak active agents, agents created.
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = simulate(config, seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    scale = config["model"]["scale"]
    active = result.timeseries["active"].to_numpy() / scale
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "returnee_months": float(active.sum()),
        "peak_active": float(active.max()),
        "agents": float(result.model.population.n),
    }


def peak_traced_memory(config: dict[str, Any], seed: int) -> float:
    """Peak bytes allocated (tracemalloc, numpy arrays included) during one run."""
    tracemalloc.start()
    try:
        simulate(config, seed)
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def bare_pass(n: int, months: int, seed: int = 0) -> float:
    """Seconds for a bare vectorised pass: n elements x `months`, one draw per element.

    Each month: draw a uniform per element, update a score with two elementwise operations,
    clip it, compute an exponential hazard and compare it with the draw (the shape of a
    model month reduced to its arithmetic, with no masks, gathers or bookkeeping).

    Args:
        n: array length (the peak active population).
        months: repetitions.
        seed: seed of the pass's own generator.

    Returns:
        Wall seconds.
    """
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    served = rng.random(n) < 0.3
    leavers = 0
    start = time.perf_counter()  # wall time, like the model's (same process, same load)
    for _ in range(months):
        u = rng.random(n)
        score += 0.05 * served - 0.004
        np.clip(score, 0.0, 1.0, out=score)
        hazard = 0.006 * np.exp(3.0 * np.maximum(0.0, 0.5 - score))
        leavers += int(np.count_nonzero(u < hazard))
    wall = time.perf_counter() - start
    assert leavers >= 0
    return wall


def profile_run(config: dict[str, Any], seed: int, top: int) -> list[dict[str, Any]]:
    """cProfile one run; the `top` functions by cumulative time inside the model's step.

    Returns:
        Rows with function (file:line(name)), calls, cumulative and own seconds.
    """
    prof = cProfile.Profile()
    prof.enable()
    simulate(config, seed)
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, name), (_, calls, own, cum, _) in stats.stats.items():
        short = file if file.startswith("~") or "<" in file else os.path.relpath(file, Path.cwd())
        rows.append({"function": f"{short}:{line}({name})", "calls": calls, "cum_s": cum, "own_s": own})
    # Skip the wrappers above the model step (simulate, run, Mesa's step machinery).
    wrappers = ("jobs.py", "sim/run.py", "mesa/model.py", "mesa/time/", "(step)")
    rows = [r for r in rows if not any(w in r["function"] for w in wrappers)]
    rows.sort(key=lambda r: r["cum_s"], reverse=True)
    return rows[:top]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the results; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--country", default="nigeria_like")
    parser.add_argument("--scenario", default="status_quo")
    parser.add_argument("--horizon", type=int, default=120)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (median reported)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="also cProfile one run and print the TOP hotspots")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override (repeatable)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    config = bench_config(args.country, args.scenario, args.horizon, args.scale, args.set)
    print(f"bench_core: {args.country}/{args.scenario}, {args.horizon} months, scale 1:{args.scale}, "
          f"seed {args.seed}, {args.reps} reps {' '.join(args.set)}")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")

    runs = []
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    for rep in range(args.reps):
        runs.append(time_model(config, args.seed))
        gc.collect()  # the model holds reference cycles (Mesa agents <-> model): free it now
        if rep == 0:
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"  model run {rep + 1}/{args.reps}: {runs[-1]['wall_s']:.2f} s wall, "
              f"{runs[-1]['cpu_s']:.2f} s CPU", flush=True)
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    months = runs[0]["returnee_months"]
    peak = int(runs[0]["peak_active"])
    bare = statistics.median(bare_pass(peak, args.horizon, seed=rep) for rep in range(args.reps))
    traced = None if args.no_memory else peak_traced_memory(config, args.seed)
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    us = wall / months * 1e6
    bare_us = bare / (peak * args.horizon) * 1e6
    results = {
        "country": args.country, "scenario": args.scenario, "horizon": args.horizon,
        "scale": args.scale, "seed": args.seed, "overrides": args.set, "reps": args.reps,
        "wall_s": wall, "wall_s_all": [r["wall_s"] for r in runs], "cpu_s": cpu,
        "us_per_returnee_month_cpu": cpu / months * 1e6,
        "tracemalloc_peak_bytes": traced, "maxrss_bytes": maxrss,
        "maxrss_before_bytes": rss_base,
        "agents_created": runs[0]["agents"], "returnee_months": months,
        "returnee_months_per_s": months / wall, "us_per_returnee_month": us,
        "peak_active": peak, "bare_s": bare, "bare_us_per_element_month": bare_us,
        "model_over_bare": wall / bare,
        "meets_target": bool(us <= TARGET_US and peak >= TARGET_ACTIVE),
    }
    mib = 1024 ** 2
    print()
    print(f"  wall time (median of {args.reps})            {wall:10.2f} s   "
          f"(runs: {', '.join(f'{w:.2f}' for w in results['wall_s_all'])})")
    if traced is not None:
        print(f"  peak memory, tracemalloc                {traced / mib:10.1f} MiB")
    print(f"  peak memory, max RSS after one run      {maxrss / mib:10.1f} MiB   "
          f"({rss_base / mib:.0f} MiB before it: interpreter and imports)")
    print(f"  returnee agents created                 {results['agents_created']:10,.0f}")
    print(f"  returnee-months simulated               {months:10,.0f}")
    print(f"  returnee-months per second              {months / wall:10,.0f}")
    print(f"  us per returnee-month                   {us:10.3f}   (target <= {TARGET_US}; "
          f"{cpu / months * 1e6:.3f} on CPU time)")
    print(f"  peak active returnees                   {peak:10,d}   (target >= {TARGET_ACTIVE:,})")
    print(f"  bare numpy pass ({peak:,} x {args.horizon})     {bare:10.3f} s   "
          f"({bare_us:.4f} us per element-month)")
    print(f"  model / bare                            {wall / bare:10.1f} x")
    print(f"  meets target                            {'yes' if results['meets_target'] else 'no':>10}")

    if args.profile:
        top = profile_run(config, args.seed, args.profile)
        results["profile_top"] = top
        print(f"\ncProfile of one run, top {args.profile} by cumulative time (inside the model step):")
        print(f"  {'cum s':>7} {'own s':>7} {'calls':>7}  function")
        for r in top:
            print(f"  {r['cum_s']:7.2f} {r['own_s']:7.2f} {r['calls']:7d}  {r['function']}")
    if args.json:
        _write_json(args.json, results)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
