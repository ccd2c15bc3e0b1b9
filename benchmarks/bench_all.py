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

The load average is printed before each part: on a shared machine compare the ratios, and
re-measure absolute figures on a quiet one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(script: str, args: list[str]) -> int:
    print(f"\n=== {script} {' '.join(args)}   (load average {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} cores)", flush=True)
    return subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE.parent).returncode


def main(argv: list[str] | None = None) -> int:
    """Run the three benchmarks; returns the first non-zero exit status, else 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and a smaller subset")
    args = ap.parse_args(argv)
    reps = "2" if args.quick else "3"
    status = [
        _run("bench_core.py", ["--reps", reps, "--no-memory", "--memory-scan",
                               "--set", "country.arrivals.monthly_mean=3600"]),
        _run("bench_stress.py", ["--jobs", "20" if args.quick else "40"]),
        _run("bench_sensitivity.py", ["--n", "8", "--scale", "100", "--executor", "processes"]),
    ]
    return next((s for s in status if s), 0)


if __name__ == "__main__":
    raise SystemExit(main())
