"""Every performance figure of the project in one run (a benchmark, not a test).

Runs, one after the other on the same machine:

1. `bench_core.py` at 1:1, 120 months, arrivals raised so that >= 100,000 returnees are
   active: us per returnee-month, model / bare numpy pass (interleaved medians), peak RSS,
   and the peak RSS at 0.5x, 1x and 2x arrivals;
2. `bench_stress.py`: the gap-focused stress study (library x 50 futures x 2 replications at
   1:2) projected from a measured subset, processes executor on 2 workers;
3. `bench_sensitivity.py`: Sobol D=20, N=1024 at 1:100 projected from n=8.

    .venv/bin/python benchmarks/bench_all.py            # ~5-10 minutes on 2 idle cores
    .venv/bin/python benchmarks/bench_all.py --quick    # fewer repetitions and jobs

The load average is printed before each part, and a summary of every figure at the end: on a
shared machine compare the ratios (and CPU-time projections), and re-measure absolute figures
on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIB = 1024 ** 2


def _run(script: str, args: list[str]) -> int:
    print(f"\n=== {script} {' '.join(args)}   (load average {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} cores)", flush=True)
    return subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE.parent).returncode


def summary(core: dict, stress: dict, sobol: dict) -> list[str]:
    """The figures of the three benchmarks, one line each, against the targets."""
    lines = [
        f"  us per returnee-month (1:{core['scale']}, {core['horizon']} months)   {core['us_per_returnee_month']:.3f} wall, "
        f"{core['us_per_returnee_month_cpu']:.3f} CPU   (peak {core['peak_active']:,} active, "
        f"{core['returnee_months']:,.0f} returnee-months)",
        f"  model / bare numpy pass, CPU time       {core['model_over_bare_cpu']:.1f} x   (target <= 10 x; "
        f"wall {core['model_over_bare']:.1f} x; per returnee-month stepped, spin-up included: "
        f"{core['model_over_bare_per_returnee_month_cpu']:.1f} x)",
        f"  peak RSS after one run                  {core['maxrss_bytes'] / MIB:.0f} MiB   (target <= 1024 MiB)",
    ]
    for r in core.get("memory_scan", []):
        lines.append(f"  peak RSS at {r['factor']:g}x arrivals              {r['rss_peak'] / MIB:.0f} MiB   "
                     f"({r['agents']:,} agents, {(r['rss_peak'] - r['rss_before']) / max(r['agents'], 1):.0f} "
                     f"bytes/agent above the imports)")
    lines += [
        f"  stress study ({stress['study_jobs']} runs at 1:2), 2 cores  {stress['projected_idle_min']:.1f} min from "
        f"CPU time, {stress['projected_min']:.1f} min wall   (target <= 15 min)",
        f"  Sobol D=20 N=1024 at 1:100, 2 cores     {sobol['projected_idle_min']:.1f} min from CPU time, "
        f"{sobol['projected_min']:.1f} min wall   (target <= 60 min)",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the three benchmarks and print a summary; returns the first non-zero exit status, else 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller subset")
    args = ap.parse_args(argv)
    reps = "2" if args.quick else "3"
    with tempfile.TemporaryDirectory() as tmp:
        out = {name: Path(tmp) / f"{name}.json" for name in ("core", "stress", "sobol")}
        status = [
            _run("bench_core.py", ["--reps", reps, "--no-memory", "--memory-scan",
                                   "--set", "country.arrivals.monthly_mean=3600", "--json", str(out["core"])]),
            _run("bench_stress.py", ["--jobs", "20" if args.quick else "40", "--json", str(out["stress"])]),
            _run("bench_sensitivity.py", ["--n", "8", "--scale", "100", "--executor", "processes",
                                          "--json", str(out["sobol"])]),
        ]
        if all(p.exists() for p in out.values()):
            figures = {k: json.loads(p.read_text()) for k, p in out.items()}
            print(f"\n=== summary   (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)")
            print("\n".join(summary(figures["core"], figures["stress"], figures["sobol"])))
    return next((s for s in status if s), 0)


if __name__ == "__main__":
    raise SystemExit(main())
