"""The SALib pipeline, independent of the simulator: sample -> evaluate -> analyze -> tidy.

    design = sample(problem, "sobol", n=1024, seed=1)        # a `Design` (X + settings)
    Y = evaluate(model, design.X)                            # any f(X) -> Y
    indices = analyze(design, Y, outcomes=["y"], seed=2)     # tidy DataFrame
    conv = convergence(design, Y, outcomes=["y"], seed=2)    # same, at N/4, N/2, N

`run_sa` does all four. The same code runs the known-answer checks (Ishigami, additive
functions) and the simulator studies, so the checks test what the studies use.

The `Design` carries the sampling settings (method, N, second order, groups, levels) to
the analysis; `analyze` refuses Y that does not fit them instead of letting SALib guess N
from `Y.size` (which it does silently: e.g. D=3, N=8 sampled without second order gives 40
rows, which SALib's Sobol analysis with second order reads as N=5).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from experiments.config import ConfigError

METHODS = ("sobol", "morris")
UNBOUNDED = ("norm", "lognorm")
#: columns of the tidy indices table
INDEX_COLUMNS = ["outcome", "factor", "factor2", "index", "value", "conf"]


@dataclass(frozen=True)
class Design:
    """A sample together with the settings the analysis must match.

    Attributes:
        method: `sobol` (Saltelli scheme) or `morris` (trajectories).
        problem: the SALib problem dict (see `sa_space.problem_from`).
        X: the sample, one row per model evaluation, one column per factor.
        n: base samples (Sobol) or trajectories (Morris).
        second_order: Sobol sample supports second-order indices.
        num_levels: Morris grid levels.
    """

    method: str
    problem: dict[str, Any]
    X: np.ndarray = field(repr=False)
    n: int
    second_order: bool = False
    num_levels: int = 4

    @property
    def units(self) -> list[str]:
        """What indices are reported for: the groups if declared, else the factors."""
        groups = self.problem.get("groups")
        return list(dict.fromkeys(groups)) if groups else list(self.problem["names"])

    @property
    def block(self) -> int:
        """Rows per base sample (Sobol: D+2 or 2D+2) or per trajectory (Morris: D+1)."""
        d = len(self.units)
        if self.method == "morris":
            return d + 1
        return 2 * d + 2 if self.second_order else d + 2

    def leading(self, n: int) -> Design:
        """The design made of the first `n` base samples (Sobol) or trajectories (Morris).

        The Saltelli matrix is laid out in blocks of `block` rows per base sample and the
        scrambled Sobol' sequence is balanced on every power-of-two prefix, so the leading
        rows are a valid smaller design.
        """
        if not 1 <= n <= self.n:
            raise ValueError(f"leading: n must be in [1, {self.n}], got {n}")
        return replace(self, X=self.X[: n * self.block], n=n)


def _check_problem(problem: dict[str, Any]) -> None:
    names = problem.get("names")
    if not names or problem.get("num_vars") != len(names) or len(problem.get("bounds", [])) != len(
        names
    ):
        raise ConfigError("problem: needs num_vars, names and bounds of equal length")


def sample(
    problem: dict[str, Any],
    method: str,
    n: int,
    seed: int,
    second_order: bool = False,
    num_levels: int = 4,
) -> Design:
    """Draw a seeded SALib sample.

    Args:
        problem: SALib problem dict (groups optional).
        method: `sobol` (Saltelli scheme, `SALib.sample.sobol`) or `morris`.
        n: Sobol base samples N (a power of two) or Morris trajectories (>= 2).
        seed: seed of the (scrambled Sobol' / Morris) sampler.
        second_order: Sobol only: also sample the cross matrices for S2.
        num_levels: Morris only: grid levels (even, >= 2).

    Returns:
        The `Design`; `X` has N*(D+2) (or N*(2D+2)) rows for Sobol, n*(D+1) for Morris,
        with D the number of groups when the problem declares groups.

    Raises:
        ConfigError: unknown method, N not a power of two, odd levels, Morris on an
            unbounded distribution.
    """
    _check_problem(problem)
    if method not in METHODS:
        raise ConfigError(f"method: unknown '{method}'; allowed: {', '.join(METHODS)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ConfigError(f"n: must be an integer, got {n!r}")
    n = int(n)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample

        if n < 2 or n & (n - 1):
            lower = 1 << max(1, n.bit_length() - 1)
            raise ConfigError(
                f"n: Sobol' sampling needs N a power of two (>= 2), got {n}; "
                f"use n={lower} or n={lower * 2}"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            X = sobol_sample.sample(
                problem, n, calc_second_order=bool(second_order), scramble=True, seed=int(seed)
            )
        return Design("sobol", problem, X, n, bool(second_order), num_levels)
    from SALib.sample import morris as morris_sample

    if n < 2:
        raise ConfigError(f"n: Morris needs at least 2 trajectories, got {n}")
    if num_levels < 2 or num_levels % 2:
        raise ConfigError(f"num_levels: must be even and >= 2, got {num_levels}")
    bad = [nm for nm, d in zip(problem["names"], problem.get("dists") or [], strict=False)
           if d in UNBOUNDED]
    if bad:
        raise ConfigError(
            f"method: morris places points on the edges of each factor's support; "
            f"{', '.join(bad)} use an unbounded distribution (norm/lognorm): use truncnorm, "
            "or method=sobol"
        )
    if second_order:
        raise ConfigError("second_order: only for method=sobol; set second_order=false")
    X = morris_sample.sample(problem, n, num_levels=num_levels, seed=int(seed))
    return Design("morris", problem, X, n, False, num_levels)


def evaluate(
    model: Callable[..., Any], X: np.ndarray, seeds: Sequence[int] | None = None
) -> np.ndarray:
    """Evaluate a model on every row of X, averaging over replications.

    Args:
        model: a deterministic `f(X) -> Y` when `seeds` is None; otherwise a stochastic
            `f(X, seed) -> Y`, called once per seed with the same seed for every row
            (common random numbers). A model may instead provide
            `evaluate_replicated(X, seeds) -> array (R, rows, outcomes)` to get all runs
            at once (the simulator does, to hand them to the executor in one batch).
        X: the sample (rows x factors).
        seeds: replication seeds, or None for a deterministic model.

    Returns:
        Y as a 2-D array (rows x outcomes), the replication mean for stochastic models.
    """
    if seeds is None:
        return _as_2d(model(X), len(X))
    if hasattr(model, "evaluate_replicated"):
        Ys = np.asarray(model.evaluate_replicated(X, list(seeds)), dtype=float)
    else:
        Ys = np.stack([_as_2d(model(X, seed=int(s)), len(X)) for s in seeds])
    return Ys.mean(axis=0)


def _as_2d(Y: Any, rows: int) -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != rows:
        raise ValueError(f"model returned shape {Y.shape}; expected ({rows},) or ({rows}, k)")
    return Y


def _salib_seed(seed: int) -> int:
    """A positive int for SALib (its Sobol analysis treats seed 0 as 'no seed')."""
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0]) % (2**31 - 2) + 1


def check_fit(design: Design, Y: np.ndarray, calc_second_order: bool | None = None) -> np.ndarray:
    """Check that Y (and the analysis settings) fit the design; return Y as 2-D.

    Raises:
        ConfigError: Y rows differ from the sample, the sample does not have the layout of
            its settings, or the requested second order differs from the sampled one.
    """
    if calc_second_order is not None and bool(calc_second_order) != design.second_order:
        raise ConfigError(
            f"second_order: analysis asks calc_second_order={bool(calc_second_order)} but the "
            f"sample was drawn with second_order={design.second_order}; they must match"
        )
    rows = design.n * design.block
    if design.X.shape != (rows, design.problem["num_vars"]):
        raise ConfigError(
            f"sample: X has shape {design.X.shape}, but {design.method} with n={design.n}, "
            f"{len(design.units)} factors/groups, second_order={design.second_order} "
            f"needs ({rows}, {design.problem['num_vars']})"
        )
    Y = np.asarray(Y, dtype=float)
    Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
    if Y.ndim != 2 or Y.shape[0] != rows:
        raise ConfigError(
            f"Y: has {Y.shape[0] if Y.ndim else 0} rows but the sample has {rows} "
            f"(n={design.n} x {design.block} rows per block); evaluate every sample row once"
        )
    bad = ~np.isfinite(Y)
    if bad.any():
        cols = sorted(set(np.nonzero(bad)[1].tolist()))
        raise ConfigError(
            f"Y: {int(bad.sum())} non-finite values in outcome column(s) {cols}; "
            "indices would be meaningless"
        )
    return Y


def analyze(
    design: Design,
    Y: np.ndarray,
    outcomes: Sequence[str] | None = None,
    seed: int = 0,
    num_resamples: int = 100,
    conf_level: float = 0.95,
    calc_second_order: bool | None = None,
) -> pd.DataFrame:
    """SALib analysis with bootstrap confidence intervals, as one tidy table.

    Args:
        design: the design Y was evaluated on.
        Y: model output, rows x outcomes (or one column as a 1-D array).
        outcomes: outcome names, one per column (default y0, y1, ...).
        seed: seed of the bootstrap resampling.
        num_resamples: bootstrap resamples.
        conf_level: confidence level of the intervals (0 < level < 1).
        calc_second_order: if given, must equal the design's `second_order`.

    Returns:
        DataFrame with columns `outcome, factor, factor2, index, value, conf`: Sobol `S1`,
        `ST` (and `S2` with the pair in factor/factor2); Morris `mu_star` (with its
        bootstrap `conf`), `mu`, `sigma`. `conf` is the half-width of the interval.
        An outcome that is constant over the sample gets NaN indices (and a warning).

    Raises:
        ConfigError: Y or the settings do not fit the design, or bad conf_level.
    """
    Y = check_fit(design, Y, calc_second_order)
    names = list(outcomes) if outcomes is not None else [f"y{j}" for j in range(Y.shape[1])]
    if len(names) != Y.shape[1]:
        raise ConfigError(f"outcomes: {len(names)} names for {Y.shape[1]} output columns")
    if not 0 < conf_level < 1:
        raise ConfigError(f"conf_level: must be in (0, 1), got {conf_level}")
    frames = [
        _analyze_one(design, Y[:, j], name, _salib_seed(seed), num_resamples, conf_level)
        for j, name in enumerate(names)
    ]
    return pd.concat(frames, ignore_index=True)[INDEX_COLUMNS]


def _analyze_one(
    design: Design, y: np.ndarray, outcome: str, seed: int, num_resamples: int, conf: float
) -> pd.DataFrame:
    units = design.units
    rows: list[tuple] = []
    if np.ptp(y) == 0:
        warnings.warn(f"outcome '{outcome}' is constant over the sample: indices are NaN",
                      stacklevel=3)
        kinds = ["S1", "ST"] if design.method == "sobol" else ["mu_star", "mu", "sigma"]
        rows = [(outcome, u, "", k, np.nan, np.nan) for k in kinds for u in units]
        if design.second_order:
            rows += [(outcome, a, b, "S2", np.nan, np.nan)
                     for i, a in enumerate(units) for b in units[i + 1:]]
        return pd.DataFrame(rows, columns=INDEX_COLUMNS)
    if design.method == "sobol":
        from SALib.analyze import sobol

        S = sobol.analyze(design.problem, y, calc_second_order=design.second_order,
                          num_resamples=num_resamples, conf_level=conf, seed=seed)
        for key in ("S1", "ST"):
            rows += [(outcome, u, "", key, S[key][i], S[f"{key}_conf"][i])
                     for i, u in enumerate(units)]
        if design.second_order:
            rows += [(outcome, a, b, "S2", S["S2"][i, k], S["S2_conf"][i, k])
                     for i, a in enumerate(units) for k, b in enumerate(units) if k > i]
    else:
        from SALib.analyze import morris

        S = morris.analyze(design.problem, design.X, y, num_resamples=num_resamples,
                           conf_level=conf, num_levels=design.num_levels, seed=seed)
        rows += [(outcome, u, "", "mu_star", S["mu_star"][i], S["mu_star_conf"][i])
                 for i, u in enumerate(units)]
        rows += [(outcome, u, "", key, S[key][i], np.nan)
                 for key in ("mu", "sigma") for i, u in enumerate(units)]
    return pd.DataFrame(rows, columns=INDEX_COLUMNS).astype({"value": float, "conf": float})


def convergence(
    design: Design,
    Y: np.ndarray,
    outcomes: Sequence[str] | None = None,
    seed: int = 0,
    fractions: Sequence[float] = (0.25, 0.5, 1.0),
    num_resamples: int = 100,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Indices and interval widths recomputed on leading parts of the design.

    Sobol: the first N/4, N/2, N base samples (their blocks of the Saltelli matrix);
    Morris: the first r/4, r/2, r trajectories. Sizes below 2 are skipped.

    Args:
        design, Y, outcomes, seed, num_resamples, conf_level: as for `analyze`.
        fractions: parts of `design.n` to use.

    Returns:
        The `analyze` table plus columns `n` (base samples or trajectories used) and
        `width` (= 2 x conf, the full interval width).
    """
    Y = check_fit(design, Y)
    sizes = sorted({max(1, int(round(design.n * f))) for f in fractions})
    frames = []
    for n in sizes:
        if n < 2:
            continue
        sub = design.leading(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = analyze(sub, Y[: n * design.block], outcomes, seed, num_resamples, conf_level)
        frames.append(df.assign(n=n))
    out = pd.concat(frames, ignore_index=True)
    out["width"] = 2 * out["conf"]
    return out


@dataclass
class SAResult:
    """Everything a study produced, in memory."""

    design: Design
    Y: np.ndarray
    outcomes: list[str]
    indices: pd.DataFrame
    convergence: pd.DataFrame


def study_seeds(seed: int, replications: int) -> dict[str, Any]:
    """Independent named seeds for one study, all derived from `seed`.

    Returns:
        `{"sample": int, "analysis": int, "replications": [int, ...]}`; replication r
        uses `replications[r]` at every sample point (common random numbers).
    """
    from experiments.study.runner import replication_seeds, study_stream

    return {
        "sample": int(study_stream(seed, "sample").generate_state(1)[0]),
        "analysis": int(study_stream(seed, "analysis").generate_state(1)[0]),
        "replications": replication_seeds(seed, replications),
    }


def run_sa(
    model: Callable[..., Any],
    problem: dict[str, Any],
    method: str,
    n: int,
    seed: int,
    outcomes: Sequence[str] | None = None,
    replications: int = 0,
    second_order: bool = False,
    num_levels: int = 4,
    num_resamples: int = 100,
    conf_level: float = 0.95,
    fractions: Sequence[float] = (0.25, 0.5, 1.0),
) -> SAResult:
    """The whole pipeline on any model: sample, evaluate, analyze, convergence.

    Args:
        model: `f(X) -> Y` (replications=0) or `f(X, seed) -> Y` (replications >= 1);
            see `evaluate`.
        problem: SALib problem dict.
        method, n, second_order, num_levels: see `sample`.
        seed: the study's root seed (sampling, replication and bootstrap seeds derive
            from it via `study_seeds`).
        outcomes: names of Y's columns.
        replications: runs per sample point for stochastic models, averaged.
        num_resamples, conf_level, fractions: see `analyze` and `convergence`.

    Returns:
        An `SAResult`.
    """
    seeds = study_seeds(seed, replications)
    design = sample(problem, method, n, seeds["sample"], second_order, num_levels)
    Y = evaluate(model, design.X, seeds["replications"] if replications else None)
    names = list(outcomes) if outcomes is not None else [f"y{j}" for j in range(Y.shape[1])]
    indices = analyze(design, Y, names, seeds["analysis"], num_resamples, conf_level)
    conv = convergence(design, Y, names, seeds["analysis"], fractions, num_resamples, conf_level)
    return SAResult(design, Y, names, indices, conv)
