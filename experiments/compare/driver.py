"""`handover compare`: scenarios x replications with common random numbers, paired CIs.

Usage::

    handover compare                                   # whole library, 30 replications
    handover compare scenarios=[status_quo,abrupt_exit,linear_taper] replications=10 \\
        country=nigeria_like model.horizon_months=72 output_dir=outputs/cmp

Replication r of every scenario runs with the same seed (derived from `seed` and r), so
the scenarios see the same returnees arrive and scenario differences are paired. Writes to
`output_dir`: comparison.csv (one row per scenario), runs.parquet (one row per scenario x
replication), timeseries.parquet (one row per run x month), report.html and figures.
See docs/compare.md for what the columns mean.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from experiments.study.atomic import write_csv_atomic, write_parquet_atomic
from experiments.config import compose, run_config
from experiments.settings import CompareSettings, load_settings
from experiments import units
from experiments.compare import assumptions as what_if
from experiments.compare.assumptions import parse_assumptions
from experiments.compare.paired import comparison_table, paired_differences
from experiments.study.outputs import manifest, resolve_output_dir, utc_now, write_manifest
from experiments.study.runner import load_series, replication_seeds, run_study, study_failed
from experiments.study.store import study_lock
from experiments.validation import validate_jobs

#: Outcomes summarised in comparison.csv (those the simulator returns; missing ones skipped).
OUTCOMES = (
    "coverage",
    "coverage_programme",
    "coverage_nonprogramme",
    "coverage_vulnerable",
    "dropped_cases",
    "dropped_cases_window",
    "unmet_need_months",
    "gap_months",
    "gap_episodes",
    "gap_depth",
    "gap_duration",
    "gap_episodes_programme",
    "gap_episodes_vulnerable",
    "sustainable_share_12m",
    "remigration_12m",
    "remigration_24m",
    "donor_spend",
    "national_spend",
    "national_share_of_spend",
    "cost_per_covered_episode",
)

JobFn = Callable[[dict[str, Any]], Any]


# --------------------------------------------------------------------------- settings


def build_jobs(
    overrides: Sequence[str], settings: CompareSettings, seed: int
) -> list[dict[str, Any]]:
    """Job specs: every scenario x replication, replication r with the same seed.

    Each scenario's run configuration is composed from configs/compare.yaml with the
    user's overrides plus `scenario=<name>`, so command-line overrides of `model.*`,
    `country.*` (and `scenario.*`, applied to every scenario) carry over.

    Args:
        overrides: the user's Hydra overrides.
        settings: validated settings (`load_settings('compare', ...)`).
        seed: base seed.

    Returns:
        List of {"config", "seed", "scenario", "replication"} dicts, scenario-major.
    """
    seeds = replication_seeds(seed, settings.replications)
    jobs = []
    for name in settings.scenarios:
        rc = run_config(compose("compare", [*overrides, f"scenario={name}"]))
        for r, s in enumerate(seeds):
            jobs.append({"config": rc, "seed": s, "scenario": name, "replication": r})
    return jobs


# --------------------------------------------------------------------------- evaluation


def compare_job(spec: dict[str, Any]) -> tuple[dict[str, float], pd.DataFrame]:
    """Run one job; return its scalar outcomes and its monthly series.

    The study runner keeps the series in the result store under the job's key (see
    `experiments.study.runner.load_series`).

    Args:
        spec: job spec (config, seed, scenario, replication).

    Returns:
        (flat dict of scalar outcomes, monthly series), as
        `experiments.study.jobs.run_job_with_series`.
    """
    from experiments.study.jobs import run_job_with_series

    return run_job_with_series(spec)


def evaluate(
    jobs: list[dict[str, Any]],
    output_dir: Path,
    executor_cfg: dict[str, Any] | None,
    job_fn: JobFn = compare_job,
) -> pd.DataFrame:
    """Evaluate job specs through the shared study runner and return the runs table.

    `experiments.study.runner.run_study` streams results to `output_dir/store/` (a killed
    comparison resumes where it stopped) and runs them on the configured executor.

    Args:
        jobs: job specs from `build_jobs`.
        output_dir: study folder.
        executor_cfg: the `executor` config node.
        job_fn: picklable top-level function spec -> (scalar outcomes, monthly series).

    Returns:
        DataFrame with columns scenario, replication, seed, the outcomes, job and error
        (None when the run succeeded), one row per job in job order.
    """
    table = run_study(jobs, job_fn, output_dir, executor_cfg, label="compare",
                      keep_series=[True] * len(jobs))
    front = ["scenario", "replication", "seed"]
    rest = [c for c in table.columns if c not in (*front, "job", "error")]
    runs = table[[*front, *rest, "job", "error"]].copy()
    runs.attrs = dict(table.attrs)
    return runs


# --------------------------------------------------------------------------- driver


def run_comparison(
    overrides: Sequence[str] = (), job_fn: JobFn = compare_job
) -> tuple[Path, pd.DataFrame, int]:
    """Compose, validate, run and write a comparison; the body of `handover compare`.

    Args:
        overrides: Hydra overrides for configs/compare.yaml.
        job_fn: job function (spec -> scalars); tests may pass a light stand-in.

    Returns:
        (output folder, comparison table, number of failed runs).

    Raises:
        ConfigError: invalid configuration (raised before anything is written).
    """
    overrides = list(overrides)
    started = utc_now()
    cfg, settings = load_settings("compare", overrides)
    jobs = build_jobs(overrides, settings, cfg["seed"])
    from experiments.calibrate.posterior import apply_posterior, uncertainty_note

    posterior = apply_posterior(jobs, settings.posterior, cfg["seed"], settings.replications)
    decisive = parse_assumptions(cfg)
    what_if_jobs = what_if.build_jobs(jobs, decisive) if decisive else []
    if job_fn is compare_job:  # every run as the simulator reads it, before any file
        validate_jobs(jobs + what_if_jobs, ("scenario",))
    executor_cfg = cfg.get("executor")
    out = resolve_output_dir(cfg, "compare")
    with study_lock(out):
        out, table, failed, runs = _compare_locked(
            cfg, settings, jobs, executor_cfg, out, job_fn, uncertainty_note(posterior),
            what_if_jobs)
        write_manifest(out, manifest(
            cfg, settings.seed, "compare", seeds=replication_seeds(settings.seed, settings.replications),
            started_utc=started, overrides=overrides, study=runs.attrs.get("study", {}),
            counts={"runs": len(runs), "failed": failed, "scenarios": len(settings.scenarios),
                    "replications": settings.replications,
                    "assumption_runs": len(what_if_jobs)}))
    return out, table, failed


def _compare_locked(cfg, settings, jobs, executor_cfg, out, job_fn, note, what_if_jobs=()):
    """Run and write a validated comparison while holding the study folder's lock.

    Returns:
        (output folder, comparison table, failed runs incl. assumption runs, runs table).
    """
    runs = evaluate(jobs, out, executor_cfg, job_fn)
    runs = runs.sort_values(["scenario", "replication"], key=_scenario_order(settings))
    runs = runs.reset_index(drop=True)
    outcomes = [o for o in OUTCOMES if o in runs.columns]
    table = comparison_table(runs, outcomes, settings.reference, settings.level)
    diffs = paired_differences(runs, outcomes, settings.reference, settings.level)
    series = load_series(out, runs, ("scenario", "replication", "seed"))

    write_parquet_atomic(runs, out / "runs.parquet")
    if not series.empty:
        write_parquet_atomic(series, out / "timeseries.parquet")
    else:  # never leave another study's series next to this one's tables
        (out / "timeseries.parquet").unlink(missing_ok=True)
    write_csv_atomic(table, out / "comparison.csv")
    write_csv_atomic(diffs, out / "paired_differences.csv")

    from experiments.compare.plots import draw_all

    figures = draw_all(
        out, cfg.get("model", {}).get("handover_start"), settings.reference, settings.level,
    )
    seeds = replication_seeds(cfg["seed"], settings.replications)
    descriptions = {j["scenario"]: j["config"]["scenario"].get("description", "") for j in jobs}
    changes = None
    failed = study_failed(runs)
    if what_if_jobs:
        changes = run_what_if(what_if_jobs, runs, outcomes, settings, out, executor_cfg)
        failed += changes[3]
    report = build_report(cfg, settings, table, diffs, figures, seeds, descriptions, note,
                          changes)
    report.write(out / "report.html")
    print(format_table(table, settings.reference, settings.level))
    if changes is not None:
        print("\nWhat would change this ranking (assumptions.csv, assumptions_summary.csv):")
        print(changes[1][["assumption", "end", "values", "ranking_changes", "top"]].to_string(index=False))
    return out, table, failed, runs


def run_what_if(jobs: list[dict[str, Any]], base_runs: pd.DataFrame, outcomes: list[str],
                settings: CompareSettings, out: Path, executor_cfg: dict[str, Any] | None):
    """Run the decisive-assumption jobs (`experiments.compare.assumptions`) and write their
    tables and tornado figure.

    Returns:
        (detail, summary, figure path, number of failed runs).
    """
    from experiments.study.jobs import run_job

    runs = run_study(jobs, run_job, out / "assumptions", executor_cfg, label="assumptions")
    failed = study_failed(runs)
    ok = runs[runs["error"].isna()].drop(columns=["job", "error"], errors="ignore")
    ok = ok[[c for c in ok.columns if c not in ("traceback", "seconds")]]
    detail, summary = what_if.analyse(base_runs[base_runs["error"].isna()], ok, outcomes,
                                      settings.reference, settings.level)
    write_csv_atomic(detail, out / "assumptions.csv")
    write_csv_atomic(summary, out / "assumptions_summary.csv")
    figure = what_if.plot_tornado(detail, settings.reference, out / "assumptions.png")
    return detail, summary, figure, failed


def _scenario_order(settings: CompareSettings) -> Callable[[pd.Series], pd.Series]:
    order = {name: i for i, name in enumerate(settings.scenarios)}

    def key(col: pd.Series) -> pd.Series:
        return col.map(order) if col.name == "scenario" else col

    return key


def _ci(row: pd.Series, point: str, digits: int, scale: float = 1.0) -> str:
    """'m [lo, hi]' from columns `point`, `<base>_lo`, `<base>_hi` (base = point minus _mean)."""
    base = point[: -len("_mean")] if point.endswith("_mean") else point
    m, lo, hi = (row.get(c, math.nan) for c in (point, f"{base}_lo", f"{base}_hi"))
    if m is None or math.isnan(m):
        return "n/a"
    lo, hi = units.clip(base, lo), units.clip(base, hi)  # e.g. coverage never below 0
    return f"{m * scale:.{digits}f} [{lo * scale:.{digits}f}, {hi * scale:.{digits}f}]"


def summary_frame(table: pd.DataFrame, reference: str) -> pd.DataFrame:
    """A compact, formatted view of the comparison (strings), ranked best first.

    Args:
        table: comparison table from `comparison_table`.
        reference: reference scenario (marks its row).

    Returns:
        DataFrame of strings: rank, scenario, coverage %, gap risk %, dropped cases, and
        gap episodes, the paired differences from the reference in coverage (percentage
        points), gap risk and dropped cases, each with its confidence interval.
    """
    rows = []
    for _, row in table.sort_values("rank").iterrows():
        rec = {"rank": int(row["rank"]), "scenario": row["scenario"]}
        rec["coverage %"] = _ci(row, "coverage_mean", 1, 100.0)
        if "gap_risk" in row:
            rec["gap risk %"] = _ci(row, "gap_risk", 0, 100.0)
        if "gap_episodes_mean" in row:
            rec["gap episodes"] = _ci(row, "gap_episodes_mean", 0)
        if "dropped_cases_mean" in row:
            rec["dropped cases"] = _ci(row, "dropped_cases_mean", 0)
        is_ref = row["scenario"] == reference
        if "diff_coverage" in row:
            rec["Δ coverage (pp)"] = "reference" if is_ref else _ci(row, "diff_coverage", 1, 100.0)
        if "diff_gap_risk" in row:
            rec["Δ gap risk (pp)"] = "reference" if is_ref else _ci(row, "diff_gap_risk", 0, 100.0)
        if "diff_dropped_cases" in row:
            rec["Δ dropped"] = "reference" if is_ref else _ci(row, "diff_dropped_cases", 0)
        rows.append(rec)
    return pd.DataFrame(rows)


def subgroup_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Gap risk by group (strings, ranked order): everyone, programme, vulnerable, and the
    worst group with its name; gap episodes of programme and vulnerable returnees."""
    rows = []
    for _, row in table.sort_values("rank").iterrows():
        rec = {"rank": int(row["rank"]), "scenario": row["scenario"]}
        for col, label in (("gap_risk", "all %"), ("gap_risk_programme", "programme %"),
                           ("gap_risk_vulnerable", "vulnerable %"), ("gap_risk_any_group", "worst group %")):
            if col in row:
                rec[label] = _ci(row, col, 0, 100.0)
        if "gap_risk_any_group_name" in row:
            rec["worst group"] = row["gap_risk_any_group_name"]
        for col, label in (("gap_episodes_programme_mean", "programme gap episodes"),
                           ("gap_episodes_vulnerable_mean", "vulnerable gap episodes")):
            if col in row:
                rec[label] = _ci(row, col, 0)
        rows.append(rec)
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame, reference: str, level: float = 0.95) -> str:
    """The comparison as fixed-width text for the terminal (with a legend line)."""
    body = summary_frame(table, reference).to_string(index=False)
    return (f"{body}\nmeans [{level * 100:g} % CI] over replications; Δ = paired difference from "
            f"{reference} (same seeds)")


def differences_frame(diffs: pd.DataFrame, outcomes: Sequence[str]) -> pd.DataFrame:
    """Readable paired differences: one row per scenario, 'diff [lo, hi]' per outcome.

    Args:
        diffs: long table from `paired_differences` (scenario, outcome, diff, diff_lo,
            diff_hi, ...).
        outcomes: outcomes to show (missing ones skipped), in column order.

    Returns:
        DataFrame of strings; headers carry the unit (pp for shares, USD for spend).
    """
    from experiments import units

    shown = [o for o in outcomes if o in set(diffs["outcome"])]
    rows: dict[str, dict[str, str]] = {}
    for _, d in diffs[diffs["outcome"].isin(shown)].iterrows():
        col = f"diff_{d['outcome']}"
        text = " ".join([
            units.format_value(col, d["diff"]),
            f"[{units.format_value(col, d['diff_lo'])}, {units.format_value(col, d['diff_hi'])}]",
        ])
        head = f"Δ {d['outcome']} ({units.unit(col)})" if units.unit(col) else f"Δ {d['outcome']}"
        rows.setdefault(d["scenario"], {"scenario": d["scenario"]})[head] = text
    return pd.DataFrame(list(rows.values()))


def build_report(
    cfg: dict[str, Any],
    settings: CompareSettings,
    table: pd.DataFrame,
    diffs: pd.DataFrame,
    figures: list[tuple[str, Path, str]],
    seeds: list[int],
    descriptions: dict[str, str] | None = None,
    uncertainty: str = "",
    changes: tuple | None = None,
):
    """Assemble the self-contained HTML report of a comparison.

    Args:
        cfg: composed compare config (shown in full).
        settings: validated settings (`load_settings('compare', ...)`).
        table: comparison table.
        diffs: long paired-differences table.
        figures: (heading, png, caption) from `compare_plots.draw_all`.
        seeds: replication seeds.
        descriptions: scenario name -> one-line description (listed in the report).
        uncertainty: which uncertainty the intervals include (`uncertainty_note`).
        changes: (detail, summary, figure, failed) of `run_what_if`, or None.

    Returns:
        An `experiments.report.Report` (not yet written).
    """
    from experiments.report import Report

    ref = settings.reference
    pct = f"{settings.level * 100:g} %"
    country = cfg.get("country", {}).get("name", "?")
    model = cfg.get("model", {})
    rep = Report(
        "Handover scenario comparison",
        subtitle=f"handover compare: {len(settings.scenarios)} scenarios x "
        f"{settings.replications} replications, country profile {country}",
    )
    best = table.sort_values("rank").iloc[0]
    rep.add_text(
        "How to read this report",
        f"Each scenario was simulated {settings.replications} times on the {country} "
        f"profile over {model.get('horizon_months', '?')} months (handover window from "
        f"month {model.get('handover_start', '?')}). Replication r of every scenario used "
        "the same seed, so all scenarios saw the same returnees arrive (common random "
        "numbers); differences from the reference scenario "
        f"'{ref}' are therefore paired, replication by replication.\n\n"
        f"Numbers in brackets are {pct} confidence intervals: t-intervals over replications "
        "for means; Wilson score intervals for gap risk, the share of replications with a "
        "material gap: at least "
        f"{model.get('gap_min_months', '?')} months in a row whose cohort coverage fell more "
        f"than {model.get('gap_delta', 0) * 100:g} % below the run's own pre-handover "
        "baseline by more than cohort-sampling noise explains (one-sided binomial test at "
        f"level {model.get('gap_alpha', '?')}). Gap episodes: need episodes that missed "
        "timely service because coverage fell below the baseline (persons). A paired "
        "difference whose interval excludes 0 is a difference the replications support; "
        "gap-risk differences use an interval built for paired proportions (Newcombe) and "
        "the exact McNemar test; the unpaired interval is shown for contrast only. "
        f"{uncertainty}\n\n"
        "Ranking: coverage and gaps together. Scenarios are first sorted into Pareto tiers "
        "on mean coverage, gap risk and mean gap episodes (tier 1: no other scenario is at "
        "least as good on all three and better on one); within a tier, lower gap risk "
        "first, then higher coverage, then fewer gap episodes and dropped cases. Rank 1 "
        f"here: {best['scenario']}. The model is illustrative and not calibrated: read "
        "differences between scenarios, not absolute levels.",
    )
    if descriptions:
        rep.add_list(
            "Scenarios compared",
            [f"{name}: {' '.join(str(text).split())}" for name, text in descriptions.items()],
        )
    rep.add_table(
        "Summary",
        summary_frame(table, ref),
        caption=f"Means with {pct} CIs; coverage and gap risk in %; Δ = paired difference "
        f"from {ref} (coverage in percentage points) with its {pct} CI.",
    )
    rep.add_table(
        "Gaps by group",
        subgroup_frame(table),
        caption=f"Gap risk in % with {pct} Wilson intervals for everyone, programme and "
        "vulnerable returnees and the worst group (of programme, non-programme, vulnerable, "
        "each region and each service area, named); mean gap episodes (persons) of "
        "programme and vulnerable returnees. Each group is measured against its own baseline.",
    )
    for heading, path, caption in figures:
        rep.add_figure(heading, path, caption)
    if changes is not None:
        detail, summary, figure, _ = changes
        base_order = list(table.sort_values(["rank", "scenario"])["scenario"])
        said = what_if.sentences(summary, base_order) or [
            "No decisive assumption at either end of its range changes the ranking."]
        rep.add_list("What would change this ranking", said)
        rep.add_table(
            "Decisive assumptions, one at a time",
            summary[["assumption", "end", "values", "ranking_changes", "top", "moved", "ranking"]],
            caption="Each decisive assumption set to the low, then the high end of its declared "
            "range (configs/sa/, everything else as in the profile), every scenario re-run with "
            "the same seeds. ranking_changes: the order of scenarios differs from the Summary's; "
            "moved: scenario base rank→rank. Per scenario: assumptions.csv.")
        rep.add_figure(
            "What would change this ranking (tornado)", figure,
            f"Paired coverage difference from {ref} (percentage points) at each assumption's "
            "low (blue) and high (orange) end; black line: the base comparison; widest swing on top.")
    rep.add_table(
        f"Paired differences against {ref}",
        differences_frame(diffs, ["coverage", "dropped_cases", "unmet_need_months", "gap_risk",
                                  "gap_risk_programme", "gap_risk_vulnerable", "gap_episodes",
                                  "donor_spend", "national_spend"]),
        caption=f"Mean of (scenario − {ref}) over matched replications with its paired {pct} "
        "t-interval; shares in percentage points, spend in USD. p: two-sided paired t-test "
        "(gap risk: Newcombe's interval for paired proportions and the exact McNemar "
        "p-value). Every outcome, with the unpaired (Welch) interval for contrast, is in the CSV.",
        csv_name="paired_differences.csv",
    )
    means = [c for c in table.columns if c.endswith("_mean")]
    rep.add_table(
        "All outcomes (comparison.csv)",
        table[["scenario", *means]],
        caption=f"Means over replications; each outcome's {pct} interval (_lo, _hi) and the "
        "paired differences are in the CSV (the same file as comparison.csv).",
        csv_name="comparison.csv",
        max_columns=10,
    )
    rep.add_config({k: v for k, v in cfg.items()})
    rep.add_seeds(seeds, heading="Seeds (replication r uses the r-th seed in every scenario)")
    return rep


def main(overrides: list[str]) -> int:
    """Entry point of `handover compare [overrides]`.

    Args:
        overrides: Hydra overrides, e.g. ["scenarios=[status_quo,abrupt_exit]",
            "replications=10"].

    Returns:
        0 on success, 1 if some runs failed (invalid input raises ConfigError; the CLI
        exits with 2).
    """
    out, _, failed = run_comparison(overrides)
    print(f"\nreport: {out / 'report.html'}")
    print(f"table:  {out / 'comparison.csv'}  runs: {out / 'runs.parquet'}")
    if failed:
        print(f"warning: {failed} run(s) failed; see the error column of runs.parquet")
        return 1
    return 0
