"""ABC-SMC over declared factors, one generation at a time through the study runner.

Approximate Bayesian computation by sequential Monte Carlo (population Monte Carlo with an
adaptive tolerance; Beaumont et al. 2009, as in pyabc): generation 0 draws candidates from
the factors' priors; each later generation draws them from a Gaussian kernel fitted to the
previous generation's weighted particles (`pyabc.MultivariateNormalTransition`). Every
candidate is simulated (R replications, averaged) as ordinary study jobs, so generations
run on any executor, resume from the store, and show progress. The `particles` candidates
closest to the targets are kept; their importance weights are prior / proposal density.

Distance of a candidate: root mean square over fitted targets of
(simulated mean - centre of the accepted interval) / half-width of that interval; so a
distance <= 1 means every fitted target is met on average.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from experiments.calibrate.jobs import target_job, with_statistics
from experiments.calibrate.targets import TargetSet
from experiments.config import ConfigError
from experiments.space import Factor, Space, apply_values
from experiments.study.runner import replication_seeds, run_study


def prior_rv(factor: Factor):
    """The factor's prior as a `pyabc.RV` (its distribution in SALib's conventions).

    Raises:
        ConfigError: a categorical factor (ABC-SMC here fits numbers only).
    """
    import pyabc

    if factor.kind == "categorical":
        raise ConfigError(f"factor {factor.name}: calibrate fits real or integer factors, not categorical")
    p = factor.salib_params
    if factor.dist == "unif":
        return pyabc.RV("uniform", p[0], p[1] - p[0])
    if factor.dist == "logunif":
        return pyabc.RV("loguniform", p[0], p[1])
    if factor.dist == "triang":
        return pyabc.RV("triang", p[2], loc=p[0], scale=p[1] - p[0])
    if factor.dist == "norm":
        return pyabc.RV("norm", p[0], p[1])
    if factor.dist == "truncnorm":
        low, high, mean, sd = p
        return pyabc.RV("truncnorm", (low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)
    return pyabc.RV("lognorm", p[1], scale=math.exp(p[0]))  # lognorm: ln-space mean, sd


def prior_of(space: Space):
    """`pyabc.Distribution` over the space's factors (keys = factor names)."""
    import pyabc

    return pyabc.Distribution(**{f.name: prior_rv(f) for f in space.factors})


def support_ends(space: Space) -> list[tuple[str, dict[str, Any]]]:
    """Labelled parameter sets at the ends of the priors' support (candidates lie within).

    Every factor at its median; each factor at its low and at its high end (the others at
    their median); every factor at its low and at its high end together. Bounded priors
    end at their bounds, unbounded ones (norm, lognorm) at their 1e-6 and 1 - 1e-6
    quantiles.
    """
    def ends(f: Factor) -> tuple[Any, Any]:
        if f.bounds is not None and f.dist in ("unif", "logunif", "triang", "truncnorm"):
            return f.from_sample(f.bounds[0]), f.from_sample(f.bounds[1])
        return f.ppf(1e-6), f.ppf(1 - 1e-6)

    median = {f.name: f.ppf(0.5) for f in space.factors}
    out = [("every factor at the median of its prior", median)]
    for f in space.factors:
        for end, value in zip(("low", "high"), ends(f)):
            out.append((f"{f.name}={value} ({end} end of its prior)", {**median, f.name: value}))
    for i, end in enumerate(("low", "high")):
        out.append((f"every factor at the {end} end of its prior",
                    {f.name: ends(f)[i] for f in space.factors}))
    return out


@dataclass(frozen=True)
class Settings:
    """ABC-SMC settings (validated by the calibrate command)."""

    particles: int = 40
    generations: int = 3
    oversample: int = 3  # candidates per generation = particles x oversample
    replications: int = 1
    seed: int = 1


def distance(sim: pd.DataFrame, targets: TargetSet) -> np.ndarray:
    """Distance of each row of simulated means (columns = target names) to the targets."""
    fitted = targets.fitted()
    z = np.column_stack([(sim[t.name].to_numpy(float) - t.centre) / t.half_width for t in fitted])
    d = np.sqrt(np.mean(z ** 2, axis=1))
    return np.where(np.isfinite(d), d, np.inf)


def _candidates(t: int, space: Space, prior, previous: pd.DataFrame | None,
                n: int, seed: int) -> np.ndarray:
    """n candidate parameter vectors of generation t (reproducible from the seed)."""
    from pyabc import MultivariateNormalTransition

    # pyabc draws from numpy's global generator: seed it per generation for reproducibility.
    np.random.seed(np.random.SeedSequence([seed, zlib.crc32(b"abc"), t]).generate_state(1)[0])
    names = space.names
    if previous is None:
        rows = [prior.rvs() for _ in range(n)]
        return np.array([[float(r[k]) for k in names] for r in rows])
    kernel = MultivariateNormalTransition()
    kernel.fit(previous[names], previous["weight"].to_numpy())
    out: list[list[float]] = []
    while len(out) < n:  # keep proposals inside the prior's support
        draw = kernel.rvs()
        if prior.pdf({k: float(draw[k]) for k in names}) > 0:
            out.append([float(draw[k]) for k in names])
    return np.array(out)


def _weights(t: int, space: Space, prior, previous: pd.DataFrame | None, theta: np.ndarray) -> np.ndarray:
    if previous is None:
        return np.full(len(theta), 1.0 / len(theta))
    from pyabc import MultivariateNormalTransition

    names = space.names
    kernel = MultivariateNormalTransition()
    kernel.fit(previous[names], previous["weight"].to_numpy())
    frame = pd.DataFrame(theta, columns=names)
    proposal = np.atleast_1d(kernel.pdf(frame))
    prior_d = np.array([prior.pdf(dict(zip(names, row))) for row in theta])
    w = prior_d / np.maximum(proposal, 1e-300)
    return w / w.sum()


def run_abc(config: dict[str, Any], space: Space, targets: TargetSet, settings: Settings,
            output_dir: Path, executor: dict[str, Any] | None,
            on_generation: Callable[[int, pd.DataFrame], None] | None = None,
            progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ABC-SMC; returns (posterior, all candidates).

    Args:
        config: base run configuration (model/country/scenario).
        space: the factors to fit, with their priors.
        targets: targets; those with fit: true enter the distance.
        settings: particles, generations, oversample, replications, seed.
        output_dir: generation g's study goes to output_dir/generations/g<g>/ (resumable).
        executor: the `executor` config node.
        on_generation: called with (generation, accepted particles) after each one.

    Returns:
        posterior: the last generation's particles: one column per factor, `weight`,
        `distance`, and the simulated mean of each target.
        candidates: every simulated candidate of every generation, with `generation`,
        `accepted`, `distance` and simulated means.
    """
    prior = prior_of(space)
    names = space.names
    seeds = replication_seeds(settings.seed, settings.replications)
    stats = targets.statistics
    previous: pd.DataFrame | None = None
    history = []
    n = settings.particles * settings.oversample
    for t in range(settings.generations):
        theta = _candidates(t, space, prior, previous, n if t else n, settings.seed)
        jobs = []
        for i, row in enumerate(theta):
            cfg = with_statistics(apply_values(config, space, space.from_sample(row)), stats)
            for r, s in enumerate(seeds):
                jobs.append({"config": cfg, "seed": s, "generation": t, "candidate": i, "replication": r})
        runs = run_study(jobs, target_job, Path(output_dir) / "generations" / f"g{t}", executor,
                         label=f"calibrate g{t + 1}/{settings.generations}", progress=progress)
        ok = runs[runs["error"].isna()] if "error" in runs else runs
        means = ok.groupby("candidate")[[tg.name for tg in targets.targets]].mean()
        frame = pd.DataFrame(theta, columns=names)
        frame = frame.join(means.reindex(range(len(theta))))
        frame["distance"] = distance(frame, targets)
        frame["generation"] = t
        keep = np.argsort(frame["distance"].to_numpy(), kind="stable")[: settings.particles]
        frame["accepted"] = False
        frame.loc[keep, "accepted"] = True
        accepted = frame.loc[keep].copy()
        accepted["weight"] = _weights(t, space, prior, previous, accepted[names].to_numpy())
        frame["weight"] = 0.0
        frame.loc[keep, "weight"] = accepted["weight"].to_numpy()
        history.append(frame)
        previous = accepted.reset_index(drop=True)
        if on_generation:
            on_generation(t, previous)
    candidates = pd.concat(history, ignore_index=True)
    return previous, candidates


def weighted_interval(values: np.ndarray, weights: np.ndarray, level: float) -> tuple[float, float]:
    """Central weighted interval holding `level` of the weight."""
    from pyabc.weighted_statistics import weighted_quantile

    lo = (1 - level) / 2
    return (float(weighted_quantile(values, weights, alpha=lo)),
            float(weighted_quantile(values, weights, alpha=1 - lo)))
