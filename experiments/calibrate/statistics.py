"""Statistics a target can name, computed from one finished run (`sim.results.RunResult`).

A statistic is a small mapping (from a targets file, see `targets.py`)::

    {kind: outcome, key: programme_assisted_share}           # any scalar outcome of the run
    {kind: series, column: arrivals, how: annual_mean, months: [24, null]}
    {kind: cohort, measure: started, group: programme, intake_months: 24}

`series` summarises a monthly column over model months [from, to) (`to` null = the end):
`mean`, or `annual_mean` (mean x 12, e.g. returns a year).

`cohort` looks at returnees who arrived in the reported months (after any spin-up) at the
end of the run (the snapshot), optionally only those who
arrived in the last `intake_months` months (so a funnel is read at the same cohort age as
a programme's snapshot); `group` is `all`, `programme` (modalities some external programme
accepts) or one modality:

- `started`: share of the group with at least one need who ever started assistance from
  an external programme;
- `completed`: share of the group with at least one need whose every need episode is
  completed;
- `assisted_per_year`: persons of the group ever assisted by an external programme, per
  year of the intake window (the whole run without `intake_months`);
- `assisted_share`: those persons over all arrivals of the group;
- `assisted_share_of_returns`: those persons over all arrivals (every modality), e.g. the
  AVRR-assisted share of all return movements;
- `cost_per_assisted`: donor spend over persons ever assisted by an external programme
  (USD per person, whole run);
- `assist_months`: mean length (months) of completed external need episodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.domain import MODALITIES, Episode

KINDS = ("outcome", "series", "cohort")
SERIES_HOW = ("mean", "annual_mean")
COHORT_MEASURES = ("started", "completed", "assisted_per_year", "assisted_share",
                   "assisted_share_of_returns", "cost_per_assisted", "assist_months")
GROUPS = ("all", "programme", *MODALITIES)


def compute(statistic: dict[str, Any], result: Any) -> float:
    """The value of one statistic on a finished run.

    Args:
        statistic: a validated statistic mapping (see the module docstring).
        result: a `RunResult` with its model (run in this process).

    Returns:
        The value (NaN when undefined, e.g. an empty group).
    """
    kind = statistic["kind"]
    if kind == "outcome":
        return float(result.outcomes.get(statistic["key"], np.nan))
    if kind == "series":
        return _series(statistic, result)
    return _cohort(statistic, result.model)


def _series(stat: dict[str, Any], result: Any) -> float:
    ts = result.timeseries
    lo, hi = stat.get("months") or [0, None]
    sel = ts[(ts["month"] >= lo) & ((ts["month"] < hi) if hi is not None else True)]
    value = float(sel[stat["column"]].mean()) if len(sel) else np.nan
    return value * 12 if stat.get("how", "mean") == "annual_mean" else value


def _group_mask(model: Any, group: str) -> np.ndarray:
    modality = model.population.view("modality")
    if group == "all":
        return np.ones(len(modality), dtype=bool)
    if group == "programme":
        accepted = {m for p in model.providers if p.external for m in p.spec.modalities}
        return np.isin(modality, [MODALITIES.index(m) for m in accepted])
    return modality == MODALITIES.index(group)


def _cohort(stat: dict[str, Any], model: Any) -> float:
    pop = model.population
    k = model.scale
    horizon = model.month
    intake = stat.get("intake_months")
    # reported months (arrivals during the spin-up before month 0 are left out)
    arrival = pop.view("arrival") - getattr(model, "spinup", 0)
    window = intake if intake is not None else horizon
    group = _group_mask(model, stat.get("group", "all")) & (arrival >= 0)
    if intake is not None:
        group &= arrival >= horizon - intake
    ep = pop.view("ep")
    assisted = pop.view("ever_external")
    measure = stat["measure"]
    with np.errstate(invalid="ignore", divide="ignore"):
        if measure in ("started", "completed"):
            needy = group & (ep != Episode.NONE).any(axis=1)
            if measure == "started":
                hit = assisted
            else:
                hit = ((ep == Episode.DONE) | (ep == Episode.NONE)).all(axis=1)
            return float((needy & hit).sum() / needy.sum()) if needy.any() else np.nan
        if measure == "assisted_per_year":
            return float((group & assisted).sum() * k / window * 12) if window else np.nan
        if measure == "assisted_share":
            return float((group & assisted).sum() / group.sum()) if group.any() else np.nan
        if measure == "assisted_share_of_returns":
            everyone = arrival >= (horizon - intake if intake is not None else 0)
            return float((group & assisted).sum() / everyone.sum()) if everyone.any() else np.nan
        if measure == "cost_per_assisted":
            donor = float(np.sum([r["donor_spend"] for r in model.records]))
            persons = float((assisted & (arrival >= 0)).sum() * k)
            return donor / persons if persons else np.nan
        # assist_months: completed episodes served by an external programme
        done = (ep == Episode.DONE) & pop.view("ep_external") & group[:, None]
        months = pop.view("ep_months")[done]
        return float(months.mean()) if len(months) else np.nan


def check(statistic: Any, where: str) -> dict[str, Any]:
    """Validate a statistic mapping; returns it with defaults filled in.

    Raises:
        experiments.config.ConfigError: naming `where` and the field, with allowed values.
    """
    from experiments.config import ConfigError

    if not isinstance(statistic, dict):
        raise ConfigError(f"{where}: must be a mapping with 'kind' ({', '.join(KINDS)})")
    kind = statistic.get("kind")
    allowed = {"outcome": {"kind", "key"}, "series": {"kind", "column", "how", "months"},
               "cohort": {"kind", "measure", "group", "intake_months"}}
    if kind not in KINDS:
        raise ConfigError(f"{where}.kind: unknown {kind!r}; allowed: {', '.join(KINDS)}")
    extra = sorted(set(statistic) - allowed[kind])
    if extra:
        raise ConfigError(f"{where}.{extra[0]}: unknown key for kind {kind}; allowed: "
                          f"{', '.join(sorted(allowed[kind]))}")
    out = dict(statistic)
    if kind == "outcome" and not isinstance(out.get("key"), str):
        raise ConfigError(f"{where}.key: required, an outcome name (docs/metrics.md)")
    if kind == "series":
        if not isinstance(out.get("column"), str):
            raise ConfigError(f"{where}.column: required, a monthly column such as arrivals")
        out.setdefault("how", "mean")
        if out["how"] not in SERIES_HOW:
            raise ConfigError(f"{where}.how: unknown {out['how']!r}; allowed: {', '.join(SERIES_HOW)}")
        months = out.setdefault("months", [0, None])
        if (not isinstance(months, list) or len(months) != 2 or not isinstance(months[0], int)
                or not (months[1] is None or isinstance(months[1], int))):
            raise ConfigError(f"{where}.months: must be [from, to] model months (to may be null)")
    if kind == "cohort":
        if out.get("measure") not in COHORT_MEASURES:
            raise ConfigError(f"{where}.measure: unknown {out.get('measure')!r}; allowed: "
                              f"{', '.join(COHORT_MEASURES)}")
        out.setdefault("group", "all")
        if out["group"] not in GROUPS:
            raise ConfigError(f"{where}.group: unknown {out['group']!r}; allowed: {', '.join(GROUPS)}")
        intake = out.setdefault("intake_months", None)
        if intake is not None and (isinstance(intake, bool) or not isinstance(intake, int) or intake < 1):
            raise ConfigError(f"{where}.intake_months: must be a whole number >= 1 or null")
    return out
