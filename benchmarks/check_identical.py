"""Check that the working tree's simulator gives IDENTICAL outputs to a base commit.

For every optimisation of the core (run by hand, not a test): the base commit is exported
to a temporary folder (`git archive`), and the same runs (several seeds x scenarios x
settings) are made with the base code and with the code of this checkout, each in its own
subprocess. Scalar outcomes and the monthly time series must be bit-for-bit equal (NaN
equal to NaN), and so must the bytes of every column of the final population (SHA-256 per
column: states, scores, trust, dates of every returnee); the script stores nothing and
exits 1 if any run differs.

    .venv/bin/python benchmarks/check_identical.py                 # base = main, every scenario
    .venv/bin/python benchmarks/check_identical.py --base HEAD~1 --seeds 1 2 3
    .venv/bin/python benchmarks/check_identical.py --scenarios status_quo abrupt_exit \
        --set model.scale=5
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

#: Run in a subprocess with the code under test first on sys.path; pickles the results.
_RUNNER = r"""
import hashlib, pickle, sys
sys.path.insert(0, sys.argv[1])
from experiments.config import compose, run_config
from experiments.study.jobs import simulate
jobs = pickle.loads(open(sys.argv[2], "rb").read())
out = []
for overrides, seed in jobs:
    res = simulate(run_config(compose("config", overrides)), seed)
    pop = res.model.population
    columns = [k for k, v in vars(pop).items() if hasattr(v, "dtype")]
    hashes = {k: hashlib.sha256(pop.view(k).tobytes()).hexdigest() for k in sorted(columns)}
    out.append((dict(res.outcomes), res.timeseries, hashes))
open(sys.argv[3], "wb").write(pickle.dumps(out))
"""


def _run(code_dir: Path, jobs: list[tuple[list[str], int]], tmp: Path, tag: str) -> list:
    job_file, out_file = tmp / f"{tag}_jobs.pkl", tmp / f"{tag}_out.pkl"
    job_file.write_bytes(pickle.dumps(jobs))
    subprocess.run([sys.executable, "-c", _RUNNER, str(code_dir), str(job_file), str(out_file)],
                   check=True, cwd=code_dir)
    return pickle.loads(out_file.read_bytes())


def export_revision(revision: str, folder: Path) -> str:
    """Write the files of git `revision` of this checkout into `folder`; return its short hash."""
    commit = subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return commit


def _same_outcomes(a: dict[str, float], b: dict[str, float]) -> list[str]:
    diffs = [f"keys differ: {sorted(set(a) ^ set(b))}"] if set(a) != set(b) else []
    for key in sorted(set(a) & set(b)):
        x, y = a[key], b[key]
        if not (x == y or (isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y))):
            diffs.append(f"{key}: base {x!r} new {y!r}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    """Run base and new code on the same jobs; print differences; 0 if identical."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="main", help="git revision to compare against")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--scenarios", nargs="+", default=None,
                    help="scenario names (default: every file in configs/scenario)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Hydra override for every run (repeatable)")
    ap.add_argument("--new", type=Path, default=ROOT,
                    help="folder of the code under test (default: this checkout's working tree)")
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--horizon", type=int, default=96)
    args = ap.parse_args(argv)

    scenarios = args.scenarios or sorted(p.stem for p in (ROOT / "configs" / "scenario").glob("*.yaml"))
    jobs = [([f"scenario={s}", f"model.scale={args.scale}", f"model.horizon_months={args.horizon}",
              *args.set], seed) for s in scenarios for seed in args.seeds]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base_dir = tmp / "base"
        commit = export_revision(args.base, base_dir)
        print(f"check_identical: {len(jobs)} runs, base {args.base} ({commit}) vs {args.new}")
        base = _run(base_dir, jobs, tmp, "base")
        new = _run(args.new.resolve(), jobs, tmp, "new")
    bad = 0
    for (overrides, seed), (bo, bt, *bh), (no, nt, *nh) in zip(jobs, base, new):
        diffs = _same_outcomes(bo, no)
        if bh and nh:  # a base from before the arrays were hashed has none
            diffs += [f"population column {k} differs" for k in sorted(set(bh[0]) | set(nh[0]))
                      if bh[0].get(k) != nh[0].get(k)]
        try:
            pd.testing.assert_frame_equal(bt, nt, check_exact=True)
        except AssertionError as err:
            diffs.append(f"time series: {str(err).splitlines()[0]}")
        label = f"{' '.join(overrides)} seed={seed}"
        print(f"  {'identical' if not diffs else 'DIFFERENT'}  {label}")
        for d in diffs[:5]:
            print(f"      {d}")
        bad += bool(diffs)
    print(f"{len(jobs) - bad}/{len(jobs)} runs identical")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
