"""Speed of the working tree against a base commit, measured side by side (not a test).

The base commit is exported to a temporary folder (`git archive`); then model runs of the
base and of the new code alternate (base, new, base, new, ...), each code in its own
long-lived subprocess, so both see the same machine load. Prints the median wall and CPU
time of each and the ratio base / new (the speed-up). Use it for every optimisation of the
core, next to `check_identical.py` (which checks that the outputs did not change).

    .venv/bin/python benchmarks/bench_versions.py --base main --reps 5
    .venv/bin/python benchmarks/bench_versions.py --set model.scale=1 \
        --set country.arrivals.monthly_mean=3600 --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from check_identical import ROOT, export_revision  # noqa: E402  (benchmarks/ is on sys.path)

#: A worker: reads a line (seed), runs the model, writes a JSON line with wall and CPU time.
_WORKER = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[1])
from experiments.config import compose, run_config
from experiments.study.jobs import simulate
config = run_config(compose("config", json.loads(sys.argv[2])))
simulate(config, 0)  # warm-up: imports, first allocations
print("ready", flush=True)
for line in sys.stdin:
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    simulate(config, int(line))
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}), flush=True)
"""


def _worker(code: Path, overrides: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _WORKER, str(code), json.dumps(overrides)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=code)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _time(proc: subprocess.Popen, seed: int) -> dict[str, float]:
    proc.stdin.write(f"{seed}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main(argv: list[str] | None = None) -> int:
    """Alternate base and new runs; print medians and the speed-up."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="main", help="git revision to compare against")
    ap.add_argument("--new", type=Path, default=ROOT, help="folder of the new code (default: this checkout)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="Hydra override (repeatable); default: 1:2, 120 months, status_quo")
    args = ap.parse_args(argv)
    overrides = ["scenario=status_quo", "model.scale=2", "model.horizon_months=120", *args.set]
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(tmp)
        export_revision(args.base, base_dir)
        procs = {"base": _worker(base_dir, overrides), "new": _worker(args.new.resolve(), overrides)}
        times: dict[str, list[dict[str, float]]] = {"base": [], "new": []}
        load = os.getloadavg()[0]
        for rep in range(args.reps):
            for name in (("base", "new") if rep % 2 == 0 else ("new", "base")):
                times[name].append(_time(procs[name], args.seed))
        for p in procs.values():
            p.stdin.close()
            p.wait()
    med = {k: {m: statistics.median(t[m] for t in v) for m in ("wall", "cpu")} for k, v in times.items()}
    print(f"bench_versions: {' '.join(overrides)}, seed {args.seed}, {args.reps} alternating reps")
    for name in ("base", "new"):
        walls = ", ".join(f"{t['wall']:.2f}" for t in times[name])
        print(f"  {name:5s} median wall {med[name]['wall']:7.2f} s, CPU {med[name]['cpu']:7.2f} s  (walls: {walls})")
    print(f"  speed-up base/new: wall {med['base']['wall'] / med['new']['wall']:.2f}x, "
          f"CPU {med['base']['cpu'] / med['new']['cpu']:.2f}x")
    print(f"  load average before/after: {load:.1f} / {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
