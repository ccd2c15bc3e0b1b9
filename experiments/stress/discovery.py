"""Scenario discovery: where in the uncertainty space does a strategy fail? (PRIM)

Uses the `prim` package (PyPI `prim`, the standalone PRIM of the EMA Workbench lineage,
Friedman & Fisher 1999; Bryant & Lempert 2010) rather than a hand-written PRIM. It was
chosen over `ema-workbench` because it installs with two small packages (`prim`,
`mplcursors`) on Python 3.12 with our numpy 2 / pandas 3, where `ema-workbench` 3.0
pulls in scikit-learn, statsmodels, seaborn, Platypus and eight more.

Terms (for failures = cases of interest):
- coverage of a box: failures inside the box / all failures;
- density: failures inside the box / futures inside the box (among the futures not
  already taken by earlier boxes);
- mass: futures inside the box / all futures.
PRIM peels the box step by step; each step trades coverage for density (the peeling
trajectory). From each trajectory we select the densest step whose coverage is at
least `min_coverage` (default 0.5), ties to the higher coverage; then restrictions that
are not significant (quasi-p value > `max_qp`, default 0.05, Bryant & Lempert 2010) are
dropped with PRIM's `drop_restriction`, which appends that box to the trajectory.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from experiments.config import ConfigError

#: comparison operators allowed in failure definitions
OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Failure:
    """A failure definition: `<outcome> <op> <threshold>` (e.g. gap_months >= 3).

    Attributes:
        outcome: outcome column.
        op: one of `>=`, `>`, `<=`, `<`.
        threshold: the threshold.
    """

    outcome: str = "gap_months"
    op: str = ">="
    threshold: float = 3.0

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ConfigError(
                f"discovery.failure.op: unknown '{self.op}'; allowed: {', '.join(OPERATORS)}"
            )

    def mask(self, table: pd.DataFrame) -> pd.Series:
        """Boolean series: which rows of `table` fail.

        Raises:
            ConfigError: the outcome column is missing.
        """
        if self.outcome not in table.columns:
            raise ConfigError(
                f"discovery.failure.outcome: unknown '{self.outcome}'; "
                f"allowed: {', '.join(map(str, table.columns))}"
            )
        return OPERATORS[self.op](table[self.outcome].astype(float), float(self.threshold))

    def describe(self) -> str:
        """Plain text, e.g. `gap_months ≥ 3`."""
        sym = {">=": "≥", "<=": "≤"}.get(self.op, self.op)
        return f"{self.outcome} {sym} {self.threshold:g}"


@dataclass
class Box:
    """One discovered box.

    Attributes:
        index: 1-based box number, in the order PRIM found it.
        limits: factor -> (low, high) for every factor (unrestricted: the data range).
        restricted: factors the box restricts, most significant first.
        coverage: share of all failures inside the box.
        density: share of failures among the futures in the box.
        mass: share of all futures inside the box.
        step: selected step on the peeling trajectory.
        qp_values: quasi-p value per restricted factor (Bryant & Lempert 2010).
    """

    index: int
    limits: dict[str, tuple[float, float]]
    restricted: list[str]
    coverage: float
    density: float
    mass: float
    step: int
    qp_values: dict[str, float] = field(default_factory=dict)


@dataclass
class Discovery:
    """Result of `discover`.

    Attributes:
        boxes: the selected boxes.
        trajectories: one row per box x peeling step (`box`, `step`, `coverage`,
            `density`, `mass`, `res_dim`, `selected`).
        ranges: factor -> (min, max) of the data.
        n: number of futures.
        failures: number of failing futures.
    """

    boxes: list[Box]
    trajectories: pd.DataFrame
    ranges: dict[str, tuple[float, float]]
    n: int
    failures: int

    @property
    def base_rate(self) -> float:
        """Share of futures that fail."""
        return self.failures / self.n if self.n else float("nan")

    def table(self) -> pd.DataFrame:
        """The boxes as a tidy table: one row per box x factor.

        Columns: box, factor, low, high, restricted, data_low, data_high, coverage,
        density, mass, qp_value.
        """
        rows = []
        for b in self.boxes:
            for name, (lo, hi) in b.limits.items():
                dlo, dhi = self.ranges[name]
                rows.append(
                    {
                        "box": b.index,
                        "factor": name,
                        "low": lo,
                        "high": hi,
                        "restricted": name in b.restricted,
                        "data_low": dlo,
                        "data_high": dhi,
                        "coverage": b.coverage,
                        "density": b.density,
                        "mass": b.mass,
                        "qp_value": b.qp_values.get(name, np.nan),
                    }
                )
        cols = ["box", "factor", "low", "high", "restricted", "data_low", "data_high",
                "coverage", "density", "mass", "qp_value"]
        return pd.DataFrame(rows, columns=cols)


def select_step(trajectory: pd.DataFrame, min_coverage: float = 0.5) -> int:
    """Pick a step on a peeling trajectory: densest with coverage >= `min_coverage`.

    Ties go to the higher coverage, then the earlier step. When no step reaches
    `min_coverage`, the step with the highest coverage is taken.

    Args:
        trajectory: columns `coverage` and `density`, one row per step (index = step).
        min_coverage: coverage floor.

    Returns:
        The selected step (position in the trajectory).
    """
    cov = trajectory["coverage"].to_numpy(dtype=float)
    den = trajectory["density"].to_numpy(dtype=float)
    ok = np.flatnonzero(cov >= min_coverage - 1e-12)
    if ok.size == 0:
        return int(np.argmax(cov))
    order = np.lexsort((ok, -cov[ok], -den[ok]))
    return int(ok[order[0]])


def discover(
    x: pd.DataFrame,
    failed: Any,
    *,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    max_boxes: int = 3,
    min_coverage: float = 0.5,
    max_qp: float = 0.05,
) -> Discovery:
    """Find boxes of the uncertainty space where failures concentrate (PRIM).

    Boxes are found one after the other on the futures not yet covered. The search stops
    after `max_boxes`, when no failure is left, or when a box is no denser than the
    remaining data (no concentration left to find).

    Args:
        x: one row per future, one numeric column per uncertain factor.
        failed: boolean per row (True = failure, the case of interest).
        peel_alpha: share of data peeled per step.
        paste_alpha: share pasted back per step.
        mass_min: smallest box mass allowed.
        max_boxes: most boxes to return.
        min_coverage: coverage floor when selecting a step on each trajectory.
        max_qp: restrictions with a larger quasi-p value are dropped (1.0 keeps all).

    Returns:
        The `Discovery` (boxes, trajectories, data ranges, counts).

    Raises:
        ConfigError: empty or mismatched inputs, non-numeric factors.
    """
    import prim  # local: the dependency is only needed for discovery

    if len(x) == 0:
        raise ConfigError("discovery: no futures to analyse")
    y = np.asarray(failed, dtype=bool)
    if y.shape != (len(x),):
        raise ConfigError(f"discovery: {y.shape[0]} failure flags for {len(x)} futures")
    bad = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
    if bad:
        raise ConfigError(f"discovery: factors must be numeric; not numeric: {bad}")
    xf = x.astype(float).reset_index(drop=True)
    xf.columns = [str(c) for c in xf.columns]
    ranges = {c: (float(xf[c].min()), float(xf[c].max())) for c in xf.columns}
    n, total = len(xf), int(y.sum())
    empty_traj = pd.DataFrame(
        columns=["box", "step", "coverage", "density", "mass", "res_dim", "selected"]
    )
    if total == 0 or total == n:
        return Discovery([], empty_traj, ranges, n, total)

    p = prim.Prim(xf, y, peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min)
    remaining = np.ones(n, dtype=bool)
    boxes: list[Box] = []
    trajs = []
    while len(boxes) < max_boxes and y[remaining].any():
        base = y[remaining].mean()
        pbox = p.find_box()
        if pbox is None:
            break
        step = select_step(pbox.peeling_trajectory.reset_index(drop=True), min_coverage)
        pbox.select(step)
        limits = pbox.limits
        weak = [str(f) for f in limits.index if limits.loc[f, "qp values"] > max_qp]
        if weak and len(weak) < len(limits):
            for name in weak:
                pbox.drop_restriction(name)
            step = len(pbox.peeling_trajectory) - 1
            limits = pbox.limits
        if pbox.density <= base + 1e-12 or pbox.res_dim == 0:
            break
        traj = pbox.peeling_trajectory.reset_index(drop=True)
        restricted = [str(f) for f in limits.index]
        lims = dict(ranges)
        for f in restricted:
            lims[f] = (float(limits.loc[f, "min"]), float(limits.loc[f, "max"]))
        boxes.append(
            Box(
                index=len(boxes) + 1,
                limits=lims,
                restricted=restricted,
                coverage=float(pbox.coverage),
                density=float(pbox.density),
                mass=float(pbox.mass),
                step=step,
                qp_values={f: float(limits.loc[f, "qp values"]) for f in restricted},
            )
        )
        t = pd.DataFrame(
            {
                "box": len(boxes),
                "step": np.arange(len(traj)),
                "coverage": traj["coverage"].astype(float),
                "density": traj["density"].astype(float),
                "mass": traj["mass"].astype(float),
                "res_dim": traj["res dim"].astype(int),
                "selected": np.arange(len(traj)) == step,
            }
        )
        trajs.append(t)
        remaining[pbox.yi] = False
    traj_all = pd.concat(trajs, ignore_index=True) if trajs else empty_traj
    return Discovery(boxes, traj_all, ranges, n, total)


def describe_box(
    box: Box,
    ranges: Mapping[str, tuple[float, float]],
    subject: str,
    failure: Failure,
    factors: Mapping[str, Mapping[str, Any]] | None = None,
    min_trim: float = 0.05,
) -> str:
    """One plain-language sentence for a box.

    A side of a restricted range is mentioned only when it trims at least `min_trim` of
    the factor's data range (PRIM often shaves a sliver off the far end); a factor with
    only slivers is left out unless every restricted factor is a sliver. The exact limits
    are in `Discovery.table()`.

    E.g. "abrupt_exit fails (gap_months ≥ 3) in 82% of futures where political will is
    below 0.3 and the funding cut exceeds 60% (this region holds 70% of all failures
    and 12% of futures)."

    Args:
        box: the box.
        ranges: factor -> data (min, max), to tell which bounds are restrictions.
        subject: the scenario name.
        failure: the failure definition.
        factors: optional factor name -> {"label": text, "unit": "share"|<unit>|None}.
        min_trim: smallest trim, as a share of the data range, worth mentioning.

    Returns:
        The sentence.
    """
    factors = factors or {}
    parts: list[str] = []
    slivers: list[str] = []
    for name in box.restricted:
        lo, hi = box.limits[name]
        dlo, dhi = ranges[name]
        spec = factors.get(name, {})
        label = spec.get("label") or name
        unit = spec.get("unit")
        span = (dhi - dlo) or 1.0
        low_cut = lo > dlo + min_trim * span
        high_cut = hi < dhi - min_trim * span
        if low_cut and high_cut:
            parts.append(f"{label} is between {_value(lo, unit)} and {_value(hi, unit)}")
        elif low_cut:
            parts.append(f"{label} exceeds {_value(lo, unit)}")
        elif high_cut:
            parts.append(f"{label} is below {_value(hi, unit)}")
        else:  # only slivers: not worth a clause
            slivers.append(f"{label} is between {_value(lo, unit)} and {_value(hi, unit)}")
    where = " and ".join(parts or slivers) or "anywhere in the space"
    return (
        f"{subject} fails ({failure.describe()}) in {box.density:.0%} of futures where "
        f"{where} (this region holds {box.coverage:.0%} of all failures and "
        f"{box.mass:.0%} of futures)."
    )


def _value(v: float, unit: str | None) -> str:
    if unit == "share":
        return f"{v:.0%}"
    if unit == "month":
        return f"month {v:.0f}"
    if unit:
        return f"{v:.3g} {unit}"
    return f"{v:.3g}"


__all__ = ["Failure", "Box", "Discovery", "OPERATORS", "select_step", "discover", "describe_box"]
