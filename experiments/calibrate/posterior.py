"""Posterior ensembles: parameter sets (with weights) written by `handover calibrate`.

A posterior folder holds `posterior.csv` (one row per parameter set: one column per
factor, named by its dotted path, and `weight`) and `space.yaml` (the factors' declaration,
so values are applied exactly as during calibration). Studies given `posterior=<folder>`
draw one parameter set per replication (by weight, from the study's seed) and use the same
set for replication r in every scenario, so paired differences stay paired and intervals
include parameter uncertainty as well as stochastic noise.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import yaml

from experiments.config import ConfigError
from experiments.space import Space, apply_values, check_paths, parse_space

POSTERIOR_FILE = "posterior.csv"
SPACE_FILE = "space.yaml"


@dataclass(frozen=True)
class Posterior:
    """Weighted parameter sets over the factors of `space`."""

    folder: str
    space: Space
    values: np.ndarray  # (sets, factors)
    weights: np.ndarray  # (sets,), sums to 1

    def draw(self, replications: int, seed: int) -> np.ndarray:
        """Indices of the parameter sets used by replications 0..R-1 (reproducible)."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"posterior")]))
        return rng.choice(len(self.weights), size=replications, p=self.weights)


def load_posterior(folder: str | Path, config: dict[str, Any] | None = None) -> Posterior:
    """Read and check a posterior folder.

    Args:
        folder: written by `handover calibrate` (or by hand in the same format).
        config: a run configuration; every factor path must exist in it.

    Raises:
        ConfigError: missing folder or files, missing factor columns, negative or zero
            weights, non-finite values, or factor paths absent from `config`.
    """
    root = Path(str(folder))
    table_path, space_path = root / POSTERIOR_FILE, root / SPACE_FILE
    for path in (table_path, space_path):
        if not path.is_file():
            raise ConfigError(f"posterior: {path} not found (a folder written by handover calibrate)")
    try:
        space = parse_space(yaml.safe_load(space_path.read_text()), source=str(space_path), name="posterior")
        table = pd.read_csv(table_path)
    except (yaml.YAMLError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ConfigError(f"posterior: cannot read {root}: {err}") from None
    missing = [c for c in (*space.names, "weight") if c not in table.columns]
    if missing:
        raise ConfigError(f"posterior: {table_path}: missing column '{missing[0]}'")
    if table.empty:
        raise ConfigError(f"posterior: {table_path}: no parameter sets")
    values = table[space.names].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    weights = pd.to_numeric(table["weight"], errors="coerce").to_numpy(float)
    if not np.isfinite(values).all() or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ConfigError(f"posterior: {table_path}: values and weights must be finite numbers, "
                          "weights >= 0 with a positive sum")
    if config is not None:
        check_paths(space, config)
    return Posterior(str(root), space, values, weights / weights.sum())


def apply_posterior(jobs: list[dict[str, Any]], folder: str | None, seed: int,
                    replications: int, avoid: Sequence[str] = ()) -> Posterior | None:
    """Give replication r of every job the same posterior parameter set (in place).

    Each job's config gets the set's values at the factor paths and a `parameter_set` tag
    (the row of posterior.csv). Jobs are matched by their `replication` tag, so every
    scenario, setting or future shares the set of replication r (paired comparisons stay
    paired).

    Args:
        jobs: job specs with "config" and "replication".
        folder: posterior folder, or None (jobs unchanged, returns None).
        seed: the study's base seed (chooses the sets).
        replications: R.
        avoid: factor paths the study itself sets (a sweep grid, a stress space); overlap
            is refused.

    Raises:
        ConfigError: unreadable posterior, factor paths absent from the run configuration,
            or a factor the study also varies.
    """
    if folder is None:
        return None
    if not isinstance(folder, str):
        raise ConfigError(f"posterior: a folder written by handover calibrate, got {folder!r}")
    posterior = load_posterior(folder, jobs[0]["config"] if jobs else None)
    clash = sorted({f.path for f in posterior.space.factors} & set(avoid))
    if clash:
        raise ConfigError(f"posterior: factor {clash[0]} is also varied by this study; "
                          "remove it from one of the two")
    picks = posterior.draw(replications, seed)
    for spec in jobs:
        i = int(picks[spec["replication"]])
        spec["config"] = apply_values(spec["config"], posterior.space,
                                      posterior.space.from_sample(posterior.values[i]))
        spec["parameter_set"] = i
    return posterior


def uncertainty_note(posterior: Posterior | None) -> str:
    """One sentence for reports: which uncertainty the intervals include."""
    if posterior is None:
        return ("Intervals reflect stochastic variation between replications only; the "
                "parameters are fixed at the profile's values.")
    return (f"Intervals include parameter uncertainty: replication r used posterior parameter "
            f"set r (drawn by weight from {posterior.folder}, {len(posterior.weights)} sets over "
            f"{', '.join(posterior.space.names)}), the same in every scenario, as well as "
            "stochastic variation.")
