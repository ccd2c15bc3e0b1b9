"""`handover sensitivity`: Morris screening and (grouped) Sobol indices of the simulator.

    handover sensitivity method=sobol n=256 replications=2 space=default
    handover sensitivity method=morris n=20 num_levels=4 grouped=true

Pipeline (the generic part lives in `experiments.sensitivity.analysis`, the space in `experiments.space`):
compose `configs/sensitivity.yaml` -> load the space `configs/sa/<space>.yaml` ->
`problem_from(space)` -> seeded `sample` -> one simulator job per (sample row,
replication) -> mean over replications -> `analyze` with bootstrap intervals ->
`convergence` at N/4, N/2, N -> files in `output_dir`:

- `indices.csv`: outcome, factor, factor2 (S2 partner), index, value, conf (CI half-width)
- `convergence.csv`: the same at n = N/4, N/2, N, with `width` (= 2 conf)
- `sample.csv`: the design (point, factor values as sampled)
- `runs.parquet`: one row per simulator run (point, replication, seed, outcomes)
- `manifest.json`: settings, problem, seeds, counts
- `fig_indices_<outcome>.png`, for Morris also `fig_morris_<outcome>.png`,
  and `fig_convergence.png`

Seeds: the config's `seed` is the study's root; sampling, bootstrap and the replication
seeds are independent streams derived from it (`sa_core.study_seeds`). Replication r uses
the same seed at every sample point (common random numbers), so the model's own noise does
not masquerade as an effect of the factors (see docs/sensitivity.md).
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.sensitivity import analysis as sa_core
from experiments.study.atomic import write_csv_atomic, write_parquet_atomic
from experiments.study.outputs import manifest, utc_now, write_manifest
from experiments.config import ConfigError, run_config
from experiments.settings import load_settings
from experiments.validation import check_outcomes, validate_jobs
from experiments.space import Space, apply_values, check_paths, load_space, problem_from

#: keys of configs/sensitivity.yaml recorded in the manifest (besides the run config keys)
SA_KEYS = (
    "method", "n", "space", "factors", "replications", "second_order", "grouped",
    "num_levels", "num_resamples", "conf_level", "outcomes",
)

#: CSV float format of the tables (round-trips every float exactly).
FULL_PRECISION = "%.17g"

Runner = Callable[[list[dict[str, Any]]], list[dict[str, float]]]


class SimulatorModel:
    """The simulator as an SA model: sample rows -> run configs -> jobs -> outcome columns.

    Row i of X gives the factors' values (`Space.from_sample`), written into the base run
    config by `experiments.space.apply_values`; replication r runs it with seed `seeds[r]`.

    Args:
        space: the factors, in the column order of X.
        base_config: the run configuration (model/country/scenario) the factors modify.
        outcomes: names of the outcome columns to return.
        runner: maps a list of job specs to their outcome dicts (`make_runner`: the shared
            study runner with its executor and store).
    """

    def __init__(
        self,
        space: Space,
        base_config: dict[str, Any],
        outcomes: Sequence[str],
        runner: Runner,
    ):
        check_paths(space, base_config)
        self.space = space
        self.base_config = base_config
        self.outcomes = list(outcomes)
        self.runner = runner
        self.runs: pd.DataFrame | None = None

    def jobs(self, X: np.ndarray, seeds: Sequence[int]) -> list[dict[str, Any]]:
        """Job specs for every (replication, row), replication-major."""
        configs = [apply_values(self.base_config, self.space, self.space.from_sample(row))
                   for row in X]
        return [
            {"config": cfg, "seed": int(s), "point": i, "replication": r}
            for r, s in enumerate(seeds)
            for i, cfg in enumerate(configs)
        ]

    def evaluate_replicated(self, X: np.ndarray, seeds: Sequence[int]) -> np.ndarray:
        """Outcomes of every run, shape (replications, rows, outcomes).

        Raises:
            ConfigError: a requested outcome is not produced by the simulator.
        """
        specs = self.jobs(X, seeds)  # outcomes were checked by the validation pass
        results = self.runner(specs)
        if len(results) != len(specs):
            raise RuntimeError(f"runner returned {len(results)} results for {len(specs)} jobs")
        missing = [o for o in self.outcomes if results and o not in results[0]]
        if missing:  # a stand-in runner (tests, benchmarks) the validation pass does not know
            raise ConfigError(f"outcomes: unknown {', '.join(missing)}; allowed: "
                              f"{', '.join(sorted(results[0]))}")
        values = np.array([[float(res[o]) for o in self.outcomes] for res in results])
        rows = [
            {"point": s["point"], "replication": s["replication"], "seed": s["seed"],
             **{o: res[o] for o in self.outcomes}}
            for s, res in zip(specs, results, strict=True)
        ]
        self.runs = pd.DataFrame(rows)
        return values.reshape(len(seeds), len(X), len(self.outcomes))


# --------------------------------------------------------------------------- settings


def _output_dir(cfg: dict[str, Any]) -> Path:
    from experiments.study.outputs import resolve_output_dir

    return resolve_output_dir(cfg, "sensitivity")


# --------------------------------------------------------------------------- files


def write_outputs(
    out: Path, result: sa_core.SAResult, space: Space, record: dict[str, Any],
    runs: pd.DataFrame | None = None,
) -> list[Path]:
    """Write tables, manifest and figures of a study; return the paths written.

    Figures are drawn from the saved `indices.csv` / `convergence.csv`, not from memory.
    """
    from experiments.sensitivity import plots as sa_plots

    design = result.design
    X = pd.DataFrame(design.X, columns=space.names).rename_axis("point").reset_index()
    for table, name in ((result.indices, "indices.csv"), (result.convergence, "convergence.csv"),
                        (X, "sample.csv")):
        write_csv_atomic(table, out / name, float_format=FULL_PRECISION)
    if runs is not None and not (out / "store").exists():
        write_parquet_atomic(runs, out / "runs.parquet")
    write_manifest(out, record)
    return [out / "indices.csv", out / "convergence.csv"] + sa_plots.plot_study(out)


# --------------------------------------------------------------------------- command


def summary(indices: pd.DataFrame, method: str, top: int = 5) -> str:
    """Text table: per outcome, the `top` factors by ST (Sobol) or mu* (Morris)."""
    key = "ST" if method == "sobol" else "mu_star"
    lines = []
    for outcome, df in indices[indices["index"] == key].groupby("outcome", sort=False):
        if df["value"].isna().all():
            lines.append(f"  {outcome:<24} constant over the sample: no indices")
            continue
        df = df.sort_values("value", ascending=False).head(top)
        parts = [f"{r.factor} {r.value:.3g}±{r.conf:.2g}" for r in df.itertuples()]
        lines.append(f"  {outcome:<24} {key}: " + "; ".join(parts))
    return "\n".join(lines)


def main(overrides: list[str]) -> int:
    """Run a sensitivity study: `handover sensitivity [overrides]`.

    Args:
        overrides: Hydra overrides of `configs/sensitivity.yaml`.

    Returns:
        0 on success, 1 if some runs failed (ConfigError propagates to the CLI: status 2).
    """
    return run_sensitivity(overrides)


def run_sensitivity(overrides: list[str], job_fn: Callable[[dict], dict] | None = None) -> int:
    """`main` with an optional stand-in for `experiments.study.jobs.run_job` (tests, benchmarks).

    Args:
        overrides: Hydra overrides of `configs/sensitivity.yaml`.
        job_fn: picklable top-level `fn(spec) -> dict of outcomes`; default the simulator.

    Returns:
        The exit status.
    """
    started = utc_now()
    cfg, s = load_settings("sensitivity", overrides)
    space = load_space(s.space)
    if s.factors is not None:  # an empty list is refused, never read as "all"
        if not s.factors:
            raise ConfigError("factors: null (every factor) or a non-empty list of names; "
                              f"allowed: {', '.join(space.names)}")
        space = space.subset(s.factors)
    check_outcomes(s.outcomes)
    problem = problem_from(space, grouped=s.grouped)
    base = run_config(cfg)
    out = _output_dir(cfg)
    model = SimulatorModel(space, base, s.outcomes, runner=make_runner(cfg, out, job_fn))
    seeds = sa_core.study_seeds(int(cfg["seed"]), s.replications)
    # sample first: every setting error surfaces before any run or file
    design = sa_core.sample(problem, s.method, s.n, seeds["sample"],
                            s.second_order, s.num_levels)
    from experiments.study.executors import parse_executor
    from experiments.study.store import study_lock

    parse_executor(cfg.get("executor"))  # before any file: the lock below creates store/
    if job_fn is None:  # every sample point, as the simulator will read it
        validate_jobs([{"config": base}])  # also values the factors replace: a typo is no less bad
        validate_jobs(model.jobs(design.X, seeds["replications"][:1]), ("point",))
    with study_lock(out):
        n_runs = len(design.X) * s.replications
        print(f"sensitivity: {s.method} on {len(space.factors)} factors "
              f"({len(design.units)} {'groups' if s.grouped else 'factors'} analysed), "
              f"n={s.n}, {len(design.X)} points x {s.replications} replications = "
              f"{n_runs} runs -> {out}", flush=True)
        t0 = time.perf_counter()
        try:
            Y = sa_core.evaluate(model, design.X, seeds["replications"])
        except StudyFailed as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        seconds = time.perf_counter() - t0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            indices = sa_core.analyze(design, Y, s.outcomes, seeds["analysis"],
                                      s.num_resamples, s.conf_level, s.second_order)
            conv = sa_core.convergence(design, Y, s.outcomes, seeds["analysis"],
                                       num_resamples=s.num_resamples,
                                       conf_level=s.conf_level)
        for note in dict.fromkeys(str(w.message) for w in caught):
            print(f"note: {note}")
        result = sa_core.SAResult(design, Y, s.outcomes, indices, conv)
        record = manifest(
            cfg, int(cfg["seed"]), "sensitivity", seeds=seeds["replications"],
            started_utc=started, counts={"points": len(design.X), "runs": n_runs},
            overrides=list(overrides), settings={k: getattr(s, k) for k in SA_KEYS},
            space={"name": space.name, "source": space.source}, problem=problem,
            seed_streams={"sample": seeds["sample"], "analysis": seeds["analysis"]},
            eval_seconds=round(seconds, 3), run_config=base)
        write_outputs(out, result, space, record, model.runs)
        print(summary(indices, s.method))
        print(f"{n_runs} runs in {seconds:.1f} s ({n_runs / max(seconds, 1e-9):.1f} runs/s); "
              f"tables and figures in {out}")
        return 0


class StudyFailed(RuntimeError):
    """Some simulator runs failed; their errors are in the store / runs table."""


def make_runner(
    cfg: dict[str, Any], output_dir: Path, job_fn: Callable[[dict], dict] | None = None
) -> Runner:
    """The job runner of a composed config: the shared executor and result store.

    Runs go through `experiments.study.runner.run_study` (executor from `cfg["executor"]`, store
    in `output_dir/store`), so re-running with the same `output_dir` resumes.

    Args:
        cfg: composed `sensitivity` config (uses its `executor` node).
        output_dir: the study folder.
        job_fn: the job function (default `experiments.study.jobs.run_job`).

    Returns:
        A function mapping job specs to outcome dicts, in order.

    Raises:
        StudyFailed (from the runner): some runs failed.
    """
    from experiments.study.runner import run_study, study_failed

    def runner(specs: list[dict[str, Any]]) -> list[dict[str, float]]:
        fn = job_fn
        if fn is None:
            from experiments.study.jobs import run_job as fn
        # a single job (the outcome probe) runs in this process: no worker start-up
        executor = cfg.get("executor") if len(specs) > 1 else {"kind": "serial"}
        table = run_study(specs, fn, output_dir, executor=executor, label="sensitivity",
                          progress=len(specs) > 1)
        failed = study_failed(table)
        if failed:
            raise StudyFailed(
                f"{failed} of {len(table)} runs failed (see {output_dir}/runs.parquet); "
                "fix the cause and re-run the same command to resume"
            )
        meta = {"job", "error", *(k for k in specs[0] if k != "config")}
        return table[[c for c in table.columns if c not in meta]].to_dict("records")

    return runner
