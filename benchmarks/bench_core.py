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
  as many months as the model ran; and the ratio model / bare. The bare pass is short and
  the machine shared, so it is timed `--bare-reps` times after every model run (same
  load); the ratio of each model run to the bare passes next to it is printed too,
- with `--memory-scan`, the peak RSS of one run at 0.5x, 1x and 2x the arrivals, each in
  a fresh interpreter (memory should grow linearly with the agents created).

The targets are <= 0.5 us per returnee-month and model / bare <= 10x with >= 100,000
active returnees; the script prints whether this run meets the first. `nigeria_like` peaks near
83,500 active returnees at 1:1, so add `country.arrivals.monthly_mean=3600` to reach the
100,000 mark.

Usage::

    .venv/bin/python benchmarks/bench_core.py                       # 3 reps + memory run
    .venv/bin/python benchmarks/bench_core.py --reps 1 --profile 15 # + cProfile top 15
    .venv/bin/python benchmarks/bench_core.py --set country.arrivals.monthly_mean=3600
    .venv/bin/python benchmarks/bench_core.py --json /tmp/bench_core.json
    .venv/bin/python benchmarks/bench_core.py --memory-scan        # + RSS at 0.5x, 1x, 2x arrivals

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
import subprocess
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

#: Target: model / bare numpy pass (CPU time) at no fewer active returnees than this.
TARGET_RATIO = 10.0
TARGET_ACTIVE = 100_000


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
        "agent_months_stepped": float(result.model.agent_months),
    }


def peak_traced_memory(config: dict[str, Any], seed: int) -> float:
    """Peak bytes allocated (tracemalloc, numpy arrays included) during one run."""
    tracemalloc.start()
    try:
        simulate(config, seed)
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def bare_pass(n: int, months: int, seed: int = 0) -> tuple[float, float]:
    """Seconds for a bare vectorised pass: n elements x `months`, one draw per element.

    Each month: draw a uniform per element, update a score with two elementwise operations,
    clip it, compute an exponential hazard and compare it with the draw (the shape of a
    model month reduced to its arithmetic, with no masks, gathers or bookkeeping).

    Args:
        n: array length (the peak active population).
        months: repetitions.
        seed: seed of the pass's own generator.

    Returns:
        Wall and CPU seconds.
    """
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    served = rng.random(n) < 0.3
    leavers = 0
    start, cpu = time.perf_counter(), time.process_time()  # same clocks as the model's
    for _ in range(months):
        u = rng.random(n)
        score += 0.05 * served - 0.004
        np.clip(score, 0.0, 1.0, out=score)
        hazard = 0.006 * np.exp(3.0 * np.maximum(0.0, 0.5 - score))
        leavers += int(np.count_nonzero(u < hazard))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert leavers >= 0
    return wall, cpu


#: One run in a fresh interpreter; prints its peak RSS before and after the run (bytes) and the
#: agents created. VmHWM, not getrusage: a child's ru_maxrss starts at its parent's peak.
_MEMORY_CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from experiments.config import compose, run_config
from experiments.study.jobs import simulate

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

config = run_config(compose("config", json.loads(sys.argv[2])))
before = hwm()
res = simulate(config, int(sys.argv[3]))
after = hwm()
print(json.dumps({"before": before, "after": after, "agents": int(res.model.population.n)}))
"""


def memory_scan(overrides: list[str], monthly_mean: float, factors: list[float], seed: int
                ) -> list[dict[str, float]]:
    """Peak RSS of one run per arrivals factor, each in a fresh interpreter.

    Args:
        overrides: the benchmark's Hydra overrides (country, scenario, horizon, scale, ...).
        monthly_mean: the profile's mean monthly arrivals (persons), scaled by each factor.
        factors: multipliers of the arrivals.
        seed: the run's seed.

    Returns:
        One row per factor: factor, agents created, RSS before the run and at its peak.
    """
    rows = []
    root = str(Path(__file__).resolve().parents[1])
    for f in factors:
        ov = [*overrides, f"country.arrivals.monthly_mean={monthly_mean * f}"]
        out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, root, json.dumps(ov), str(seed)],
                             check=True, capture_output=True, text=True, cwd=root).stdout
        got = json.loads(out.strip().splitlines()[-1])
        rows.append({"factor": f, "agents": got["agents"], "rss_before": got["before"],
                     "rss_peak": got["after"]})
    return rows


#: The model's monthly phases (sim/model.py, in step order) and the outcome computation.
PHASES = ("allocate_funds", "adjust_capacity", "admit_arrivals", "seek_help", "match_episodes",
          "deliver_services", "close_drop_remigrate", "update_system", "record", "outcomes_and_series")


def phase_table(stats: pstats.Stats) -> list[dict[str, Any]]:
    """CPU seconds per phase of the month (cumulative, summed over months) and their share.

    Returns:
        One row per phase in step order, then "other" (the rest of the run) and "total".
    """
    cum: dict[str, float] = {}
    total = 0.0
    for (file, _, name), (_, _, _, c, _) in stats.stats.items():
        if name in PHASES and (file.endswith("model.py") or file.endswith("metrics.py")):
            cum[name] = cum.get(name, 0.0) + c
        if name == "simulate" and file.endswith("jobs.py"):
            total = c
    rows = [{"phase": n, "cpu_s": cum.get(n, 0.0)} for n in PHASES]
    rows.append({"phase": "other", "cpu_s": max(total - sum(cum.values()), 0.0)})
    rows.append({"phase": "total", "cpu_s": total})
    for r in rows:
        r["share"] = r["cpu_s"] / total if total else float("nan")
    return rows


def profile_run(config: dict[str, Any], seed: int, top: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """cProfile one run; the `top` functions by cumulative time inside the model's step.

    The profiler's clock is the process's CPU time, so that other jobs on a shared machine
    do not inflate the figures.

    Returns:
        Rows with function (file:line(name)), calls, cumulative and own CPU seconds; and the
        table of `phase_table`.
    """
    prof = cProfile.Profile(time.process_time)
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
    return rows[:top], phase_table(stats)


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
    parser.add_argument("--bare-reps", type=int, default=5,
                        help="bare numpy passes after each model run (median of all reported)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP",
                        help="also cProfile one run and print the TOP hotspots")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra Hydra override (repeatable)")
    parser.add_argument("--memory-scan", type=float, nargs="*", default=None, metavar="FACTOR",
                        help="also measure peak RSS at these multiples of the arrivals, each in a "
                             "fresh interpreter (no value: 0.5 1 2)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    overrides = [f"country={args.country}", f"scenario={args.scenario}",
                 f"model.horizon_months={args.horizon}", f"model.scale={args.scale}", *args.set]
    config = run_config(compose("config", overrides))
    print(f"bench_core: {args.country}/{args.scenario}, {args.horizon} months, scale 1:{args.scale}, "
          f"seed {args.seed}, {args.reps} reps {' '.join(args.set)}")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")

    runs = []
    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    # The bare pass is short and the machine shared: time it several times between the
    # model runs (same load), and compare medians.
    peak = None
    bares: list[float] = []
    bares_cpu: list[float] = []
    for rep in range(args.reps):
        runs.append(time_model(config, args.seed))
        gc.collect()  # the model holds reference cycles (Mesa agents <-> model): free it now
        if rep == 0:
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            peak = int(runs[0]["peak_active"])
        bares += [bare_pass(peak, args.horizon, seed=len(bares)) for _ in range(args.bare_reps)]
        bares_cpu += [c for _, c in bares[-args.bare_reps:]]
        bares[-args.bare_reps:] = [w for w, _ in bares[-args.bare_reps:]]
        print(f"  model run {rep + 1}/{args.reps}: {runs[-1]['wall_s']:.2f} s wall, "
              f"{runs[-1]['cpu_s']:.2f} s CPU; bare passes {', '.join(f'{b:.3f}' for b in bares[-args.bare_reps:])} s",
              flush=True)
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    months = runs[0]["returnee_months"]
    bare = statistics.median(bares)
    bare_cpu = statistics.median(bares_cpu)
    # Per unit of work: the model's CPU time per returnee-month it stepped (spin-up months
    # included, while the caseload fills) over the bare pass's per element-month.
    stepped = runs[0]["agent_months_stepped"]
    per_work = (cpu / stepped) / (bare_cpu / (peak * args.horizon))
    # Each model run against the bare passes right after it, then the median of the ratios.
    ratios = [r["wall_s"] / statistics.median(bares[i * args.bare_reps:(i + 1) * args.bare_reps])
              for i, r in enumerate(runs)]
    spread = (max(bares) - min(bares)) / bare if bares else 0.0
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
        "peak_active": peak, "bare_s": bare, "bare_s_all": bares, "bare_us_per_element_month": bare_us,
        "model_over_bare": wall / bare, "model_over_bare_per_run": ratios,
        "bare_cpu_s": bare_cpu, "model_over_bare_cpu": cpu / bare_cpu,
        "returnee_months_stepped": stepped, "model_over_bare_per_returnee_month_cpu": per_work,
        "meets_target": bool(cpu / bare_cpu <= TARGET_RATIO and peak >= TARGET_ACTIVE),
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
    print(f"  us per returnee-month                   {us:10.3f}   ({cpu / months * 1e6:.3f} on CPU time; "
          f"reported months only, the spin-up's cost included)")
    print(f"  peak active returnees                   {peak:10,d}   (target >= {TARGET_ACTIVE:,})")
    print(f"  bare numpy pass ({peak:,} x {args.horizon})     {bare:10.3f} s   "
          f"({bare_us:.4f} us per element-month; median of {len(bares)}, spread {spread:.0%})")
    print(f"  model / bare                            {wall / bare:10.1f} x   (per run: "
          f"{', '.join(f'{x:.1f}' for x in ratios)})")
    print(f"  model / bare on CPU time                {cpu / bare_cpu:10.1f} x   (read this one on a "
          f"shared machine; bare {bare_cpu:.3f} s CPU)")
    print(f"  model / bare per returnee-month, CPU    {per_work:10.1f} x   (the model's CPU time over the "
          f"{stepped:,.0f} returnee-months it stepped, spin-up included)")
    print(f"  meets target                            {'yes' if results['meets_target'] else 'no':>10}   "
          f"(model / bare on CPU time <= {TARGET_RATIO:g} x at >= {TARGET_ACTIVE:,} active)")

    if args.profile:
        top, phases = profile_run(config, args.seed, args.profile)
        results["profile_top"] = top
        results["profile_phases"] = phases
        print("\nCPU time per phase of one run (cProfile, so slower than unprofiled):")
        print(f"  {'phase':24s} {'CPU s':>7} {'share':>6}")
        for r in phases:
            print(f"  {r['phase']:24s} {r['cpu_s']:7.2f} {r['share']:6.0%}")
        print(f"\ncProfile of one run, top {args.profile} by cumulative CPU time (inside the model step):")
        print(f"  {'cum s':>7} {'own s':>7} {'calls':>7}  function")
        for r in top:
            print(f"  {r['cum_s']:7.2f} {r['own_s']:7.2f} {r['calls']:7d}  {r['function']}")
    if args.memory_scan is not None:
        factors = args.memory_scan or [0.5, 1.0, 2.0]
        mean = config["country"]["arrivals"]["monthly_mean"]
        scan = memory_scan(overrides, mean, factors, args.seed)
        results["memory_scan"] = scan
        print(f"\npeak RSS by arrivals (fresh interpreter per run; {mean:g} arrivals/month = 1x):")
        print(f"  {'arrivals':>8} {'agents':>10} {'peak RSS MiB':>13} {'minus imports':>14} {'bytes/agent':>12}")
        for r in scan:
            net = r["rss_peak"] - r["rss_before"]
            print(f"  {r['factor']:7.2f}x {r['agents']:10,d} {r['rss_peak'] / mib:13.1f} {net / mib:14.1f} "
                  f"{net / max(r['agents'], 1):12.0f}")
    if args.json:
        _write_json(args.json, results)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
