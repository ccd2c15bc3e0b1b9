"""`handover compare`: driver, files, validation, common random numbers, paired power.

Two kinds of tests:
* pipeline tests with a light stand-in job function (fast, no simulator): files written,
  comparison.csv consistent with runs.parquet, bad input rejected before writing;
* tests against the real simulator (`experiments.study.jobs`), on a short horizon and a coarse
  scale: the CLI end to end, identical arrivals across scenarios for the same seed, paired
  intervals narrower than unpaired ones, and abrupt_exit dropping more cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import cli
from experiments.compare.driver import (
    build_jobs,
    run_comparison,
)
from experiments.config import ConfigError, compose, group_options
from experiments.settings import load_settings
from experiments.compare.paired import paired_differences, t_interval, wilson_interval
from experiments.study.runner import replication_seeds


# --------------------------------------------------------------------- stand-in job


def toy_job(spec: dict) -> dict:
    """Stand-in with the simulator's shape: seed-driven arrivals, scenario effects."""
    rng = np.random.default_rng(spec["seed"])
    months = 36
    month = np.arange(months)
    arrivals = rng.poisson(100, months)
    level = rng.normal(0.6, 0.05)  # shared across scenarios for the same seed
    effect = {"status_quo": 0.0, "abrupt_exit": -0.1}.get(spec["scenario"], 0.03)
    cov = np.clip(level + effect * (month >= 12) + rng.normal(0, 0.01, months), 0, 1)
    dropped = rng.poisson(1 + 10 * (spec["scenario"] == "abrupt_exit") * (month == 12))
    series = pd.DataFrame({"month": month, "arrivals": arrivals, "coverage": cov,
                           "dropped_cases": dropped, "donor_spend": 1000.0 * (month < 12),
                           "national_spend": np.full(months, 500.0)})
    gap = float(rng.random() < (0.7 if spec["scenario"] == "abrupt_exit" else 0.3))
    return ({"coverage": float(cov.mean()), "dropped_cases": float(dropped.sum()),
             "gap_months": float(rng.integers(0, 6)), "material_gap": gap,
             "material_gap_programme": max(gap, float(rng.random() < 0.5)),
             "material_gap_region_x": float(rng.random() < 0.2),
             "gap_episodes": 100.0 * gap, "donor_spend": 12000.0, "national_spend": 18000.0},
            series)


def _toy_run(tmp_path, *extra):
    out = tmp_path / "cmp"
    args = ["scenarios=[status_quo,abrupt_exit]", "replications=4", "reference=status_quo",
            f"output_dir={out}", *extra]
    return run_comparison(args, job_fn=toy_job)


def test_pipeline_files_and_consistency(tmp_path, capsys):
    out, table, failed = _toy_run(tmp_path)
    assert failed == 0
    for name in ("comparison.csv", "runs.parquet", "timeseries.parquet", "report.html",
                 "paired_differences.csv", "coverage_over_time.png", "gap_risk.png",
                 "spend_by_payer.png", "dropped_cases_over_time.png"):
        assert (out / name).is_file(), name
    runs = pd.read_parquet(out / "runs.parquet")
    comp = pd.read_csv(out / "comparison.csv")
    assert comp.columns[0] == "scenario"
    assert list(comp["scenario"]) == ["status_quo", "abrupt_exit"]
    assert len(runs) == 8 and list(runs.columns[:3]) == ["scenario", "replication", "seed"]
    # Common random numbers: replication r has the same seed in every scenario.
    seeds = runs.pivot(index="replication", columns="scenario", values="seed")
    assert (seeds["status_quo"] == seeds["abrupt_exit"]).all()
    assert list(seeds["status_quo"]) == replication_seeds(compose("compare")["seed"], 4)
    # comparison.csv is exactly the statistics of runs.parquet.
    for name, grp in runs.groupby("scenario"):
        row = comp.set_index("scenario").loc[name]
        m, lo, hi = t_interval(grp["coverage"])
        assert row["coverage_mean"] == pytest.approx(m, rel=1e-12)
        assert (row["coverage_lo"], row["coverage_hi"]) == pytest.approx((lo, hi), rel=1e-12)
        k = int(grp["material_gap"].sum())
        assert row["gap_count"] == k
        assert row["gap_risk_hi"] == pytest.approx(wilson_interval(k, 4)[2], rel=1e-12)
    a = runs[runs.scenario == "abrupt_exit"].set_index("replication")["dropped_cases"]
    b = runs[runs.scenario == "status_quo"].set_index("replication")["dropped_cases"]
    assert comp.set_index("scenario").loc["abrupt_exit", "diff_dropped_cases"] == pytest.approx(
        (a - b).mean())
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert len(ts) == 8 * 36
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "status_quo" in html
    printed = capsys.readouterr().out
    assert "abrupt_exit" in printed and "rank" in printed


CALLS: list[int] = []


def counting_toy_job(spec: dict) -> dict:
    CALLS.append(spec["replication"])
    return toy_job(spec)


def test_rerun_resumes_with_same_results(tmp_path):
    out = tmp_path / "cmp"
    args = ["scenarios=[status_quo,abrupt_exit]", "replications=3", "reference=status_quo", f"output_dir={out}"]
    CALLS.clear()
    run_comparison(args, job_fn=counting_toy_job)
    assert len(CALLS) == 6
    first = (out / "comparison.csv").read_text()
    ts_first = pd.read_parquet(out / "timeseries.parquet")
    CALLS.clear()
    run_comparison(args, job_fn=counting_toy_job)
    assert CALLS == []  # every job came from the store
    assert (out / "comparison.csv").read_text() == first
    pd.testing.assert_frame_equal(pd.read_parquet(out / "timeseries.parquet"), ts_first)


def test_gap_risk_by_group_and_worst_group(tmp_path):
    _, table, _ = _toy_run(tmp_path)
    runs = pd.read_parquet(tmp_path / "cmp" / "runs.parquet")
    for name, grp in runs.groupby("scenario"):
        row = table.set_index("scenario").loc[name]
        prog, region = grp["material_gap_programme"].mean(), grp["material_gap_region_x"].mean()
        assert row["gap_risk_programme"] == pytest.approx(prog)
        assert row["gap_risk_any_group"] == pytest.approx(max(prog, region))
        assert row["gap_risk_any_group_name"] == ("programme" if prog >= region else "region_x")
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "Gaps by group" in html and "worst group" in html


@pytest.mark.parametrize(
    "override, field",
    [
        ("scenarios=[status_quo,no_such_plan]", "scenarios"),
        ("reference=no_such_plan", "reference"),
        ("replications=1", "replications"),
        ("scenario=abrupt_exit", "scenario"),
    ],
)
def test_bad_input_rejected_before_writing(tmp_path, override, field):
    out = tmp_path / "never"
    base = ["scenarios=[status_quo,abrupt_exit]", f"output_dir={out}"]
    with pytest.raises(ConfigError, match=field) as info:
        run_comparison([*base, override], job_fn=toy_job)
    if field in ("scenarios", "reference"):
        assert "allowed" in str(info.value)
    assert not out.exists()
    assert cli.main(["compare", *base, override]) == 2
    assert not out.exists()


def test_reference_is_compared_even_if_not_listed():
    _, settings = load_settings("compare", ["scenarios=[abrupt_exit]", "reference=status_quo"])
    assert settings.scenarios == ["status_quo", "abrupt_exit"]
    with pytest.raises(ConfigError, match="reference: unknown scenario 'nope'.*allowed: abrupt_exit"):
        load_settings("compare", ["scenarios=[abrupt_exit]", "reference=nope"])


def test_default_scenarios_are_the_library():
    _, settings = load_settings("compare")
    assert settings.scenarios == group_options("scenario")
    assert settings.replications == 30 and settings.reference == "continuation"


def test_jobs_use_each_scenario_file():
    _, settings = load_settings("compare", ["scenarios=[status_quo,abrupt_exit]",
                                            "replications=2", "reference=status_quo"])
    jobs = build_jobs(["model.horizon_months=48"], settings, seed=5)
    assert [(j["scenario"], j["replication"]) for j in jobs] == [
        ("status_quo", 0), ("status_quo", 1), ("abrupt_exit", 0), ("abrupt_exit", 1)]
    assert [j["seed"] for j in jobs] == replication_seeds(5, 2) * 2
    assert jobs[0]["config"]["scenario"]["name"] == "status_quo"
    assert jobs[2]["config"]["scenario"]["name"] == "abrupt_exit"
    assert all(j["config"]["model"]["horizon_months"] == 48 for j in jobs)


# --------------------------------------------------------------------- real simulator

import subprocess  # noqa: E402
import sys  # noqa: E402

from scipy import stats  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: Short horizon (handover window from month 24; abrupt_exit cuts funding at month 36)
#: and a coarse scale (one agent = 50 people) so that the suite stays fast.
TINY = ["model.horizon_months=60", "model.scale=50"]
#: The reference is linear_taper here (not the default status_quo): exercises `reference=`.
SCENARIOS = ["linear_taper", "abrupt_exit", "hybrid_safety_net"]
REFERENCE = "linear_taper"
QUICK_R = 8


def _handover_cmd() -> list[str]:
    script = Path(sys.executable).with_name("handover")
    return [str(script)] if script.exists() else [sys.executable, "-m", "experiments.cli"]


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One `handover compare` run through the console script, shared by the tests below."""
    out = tmp_path_factory.mktemp("compare") / "study"
    cmd = [*_handover_cmd(), "compare", f"scenarios=[{','.join(SCENARIOS)}]",
           f"replications={QUICK_R}", f"reference={REFERENCE}", f"output_dir={out}", *TINY]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_cli_end_to_end_files_match(cli_run):
    out, proc = cli_run
    assert f"report: {out / 'report.html'}" in proc.stdout
    for name in SCENARIOS:
        assert name in proc.stdout
    for name in ("comparison.csv", "runs.parquet", "report.html", "timeseries.parquet",
                 "paired_differences.csv", "coverage_over_time.png", "gap_risk.png",
                 "spend_by_payer.png", "dropped_cases_over_time.png"):
        assert (out / name).is_file(), name
    runs = pd.read_parquet(out / "runs.parquet")
    comp = pd.read_csv(out / "comparison.csv")
    assert comp.columns[0] == "scenario" and list(comp["scenario"]) == SCENARIOS
    assert len(runs) == len(SCENARIOS) * QUICK_R and runs["error"].isna().all()
    for col in ("coverage", "coverage_nonprogramme", "coverage_vulnerable", "dropped_cases",
                "unmet_need_months", "sustainable_share_12m", "remigration_12m",
                "donor_spend", "national_spend"):
        for q in ("_mean", "_lo", "_hi"):
            assert f"{col}{q}" in comp, col + q
        assert f"diff_{col}_lo" in comp
    for col in ("gap_risk", "gap_risk_lo", "gap_risk_hi", "rank"):
        assert col in comp
    indexed = comp.set_index("scenario")
    ref = runs[runs.scenario == REFERENCE].set_index("replication")
    for name, grp in runs.groupby("scenario"):
        for col in ("coverage", "dropped_cases", "national_spend"):
            m, lo, hi = t_interval(grp[col])
            assert indexed.loc[name, f"{col}_mean"] == pytest.approx(m, rel=1e-9, abs=1e-12)
            assert indexed.loc[name, f"{col}_hi"] == pytest.approx(hi, rel=1e-9, abs=1e-12)
        k = int(grp["material_gap"].sum())
        assert indexed.loc[name, "gap_risk"] == pytest.approx(k / QUICK_R)
        d = grp.set_index("replication")["coverage"] - ref["coverage"]
        assert indexed.loc[name, "diff_coverage"] == pytest.approx(d.mean(), abs=1e-12)
    assert comp["rank"].min() == 1 and comp["rank"].max() <= len(SCENARIOS)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(list(out.glob("*.png")))
    assert "Seeds" in html and "nigeria_like" in html


def test_common_random_numbers_same_arrivals(cli_run):
    out, _ = cli_run
    ts = pd.read_parquet(out / "timeseries.parquet")
    arrivals = ts.pivot_table(index=["replication", "month"], columns="scenario",
                              values="arrivals")
    assert len(arrivals) == QUICK_R * 60
    for name in SCENARIOS[1:]:
        np.testing.assert_array_equal(arrivals[name].to_numpy(), arrivals[REFERENCE].to_numpy())
    # ... while different replications see different arrivals.
    per_rep = arrivals[REFERENCE].unstack("month")
    assert per_rep.drop_duplicates().shape[0] == QUICK_R


def test_paired_interval_narrower_than_unpaired(cli_run):
    out, _ = cli_run
    diffs = pd.read_csv(out / "paired_differences.csv")
    cov = diffs[diffs.outcome == "coverage"].set_index("scenario")
    assert set(cov.index) == set(SCENARIOS[1:])
    paired = cov["diff_hi"] - cov["diff_lo"]
    unpaired = cov["unpaired_hi"] - cov["unpaired_lo"]
    assert (paired < unpaired).all(), pd.DataFrame({"paired": paired, "unpaired": unpaired})


def _one_sided_p(runs: pd.DataFrame, a: str, b: str, col: str = "dropped_cases") -> float:
    """p-value of H1: mean(a - b) > 0, paired on replication."""
    x = runs[runs.scenario == a].set_index("replication")[col]
    y = runs[runs.scenario == b].set_index("replication")[col]
    x, y = x.align(y, join="inner")
    return float(stats.ttest_rel(x, y, alternative="greater").pvalue)


def test_abrupt_exit_drops_more_cases_quick(cli_run):
    """Short horizon, R = 8: abrupt_exit drops more cases (paired, one-sided p < 0.01)."""
    out, _ = cli_run
    runs = pd.read_parquet(out / "runs.parquet")
    for other in ("linear_taper", "hybrid_safety_net"):
        assert _one_sided_p(runs, "abrupt_exit", other) < 0.01, other
    diffs = pd.read_csv(out / "paired_differences.csv").set_index(["scenario", "outcome"])
    assert diffs.loc[("abrupt_exit", "dropped_cases"), "diff_lo"] > 0


@pytest.mark.slow
def test_abrupt_exit_drops_more_cases_default_profile(tmp_path):
    """Default profile and horizon, R = 30: abrupt_exit has more dropped cases than
    linear_taper and hybrid_safety_net (paired t-test on replications, one-sided p < 0.01)."""
    out = tmp_path / "study"
    _, table, failed = run_comparison(
        ["scenarios=[status_quo,abrupt_exit,linear_taper,hybrid_safety_net]", "reference=status_quo",
         "replications=30", f"output_dir={out}", "executor=processes"]
    )
    assert failed == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs.groupby("scenario").size().min() == 30
    for other in ("linear_taper", "hybrid_safety_net"):
        assert _one_sided_p(runs, "abrupt_exit", other) < 0.01, other
    diffs = paired_differences(runs, ["coverage"], "status_quo", gap_groups=None)
    assert ((diffs.diff_hi - diffs.diff_lo) < (diffs.unpaired_hi - diffs.unpaired_lo)).all()


def failing_toy_job(spec: dict) -> dict:
    if spec["scenario"] == "abrupt_exit" and spec["replication"] == 1:
        raise RuntimeError("boom")
    return toy_job(spec)


def test_failed_runs_are_reported_not_fatal(tmp_path):
    out = tmp_path / "cmp"
    _, table, failed = run_comparison(
        ["scenarios=[status_quo,abrupt_exit]", "replications=3", "reference=status_quo", f"output_dir={out}"],
        job_fn=failing_toy_job,
    )
    assert failed == 1
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["error"].notna().sum() == 1
    row = table.set_index("scenario").loc["abrupt_exit"]
    ok = runs[(runs.scenario == "abrupt_exit") & runs.error.isna()]
    assert row["coverage_mean"] == pytest.approx(ok["coverage"].mean())
    assert row["n"] == 2
    assert (out / "report.html").is_file()
