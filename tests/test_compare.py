"""`handover compare`: driver, files, validation, common random numbers, paired power.

Two kinds of tests:
* pipeline tests with a light stand-in job function (fast, no simulator): files written,
  comparison.csv consistent with runs.parquet, bad input rejected before writing;
* tests against the real simulator (`experiments.jobs`), on a short horizon and a coarse
  scale: the CLI end to end, identical arrivals across scenarios for the same seed, paired
  intervals narrower than unpaired ones, and abrupt_exit dropping more cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import cli
from experiments.compare import (
    OUTCOMES,
    build_jobs,
    parse_settings,
    run_comparison,
    write_parquet_atomic,
)
from experiments.config import ConfigError, compose, group_options
from experiments.paired import paired_differences, t_interval, wilson_interval
from experiments.study import replication_seeds


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
    write_parquet_atomic(
        pd.DataFrame({"month": month, "arrivals": arrivals, "coverage": cov,
                      "dropped_cases": dropped, "donor_spend": 1000.0 * (month < 12),
                      "national_spend": np.full(months, 500.0)}),
        Path(spec["series_path"]),
    )
    return {"coverage": float(cov.mean()), "dropped_cases": float(dropped.sum()),
            "gap_months": float(rng.integers(0, 6)), "donor_spend": 12000.0,
            "national_spend": 18000.0}


def _toy_run(tmp_path, *extra):
    out = tmp_path / "cmp"
    args = ["scenarios=[status_quo,abrupt_exit]", "replications=4", f"output_dir={out}",
            *extra]
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
        k = int((grp["gap_months"] >= 3).sum())
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


def test_gap_threshold_override(tmp_path):
    _, table, _ = _toy_run(tmp_path, "gap_threshold_months=5")
    runs = pd.read_parquet(tmp_path / "cmp" / "runs.parquet")
    k = (runs[runs.scenario == "status_quo"]["gap_months"] >= 5).sum()
    assert table.set_index("scenario").loc["status_quo", "gap_count"] == k


@pytest.mark.parametrize(
    "override, field",
    [
        ("scenarios=[status_quo,no_such_plan]", "scenarios"),
        ("reference=no_such_plan", "reference"),
        ("replications=1", "replications"),
        ("gap_threshold_months=0", "gap_threshold_months"),
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


def test_reference_must_be_compared(tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ConfigError, match="reference: 'status_quo'.*allowed: abrupt_exit"):
        run_comparison(["scenarios=[abrupt_exit]", f"output_dir={out}"], job_fn=toy_job)
    assert not out.exists()


def test_default_scenarios_are_the_library():
    settings = parse_settings(compose("compare"))
    assert settings["scenarios"] == group_options("scenario")
    assert settings["replications"] == 30 and settings["reference"] == "status_quo"


def test_jobs_use_each_scenario_file():
    settings = parse_settings(compose("compare", ["scenarios=[status_quo,abrupt_exit]",
                                                  "replications=2"]))
    jobs = build_jobs(["model.horizon_months=48"], settings, seed=5)
    assert [(j["scenario"], j["replication"]) for j in jobs] == [
        ("status_quo", 0), ("status_quo", 1), ("abrupt_exit", 0), ("abrupt_exit", 1)]
    assert [j["seed"] for j in jobs] == [5, 6, 5, 6]
    assert jobs[0]["config"]["scenario"]["name"] == "status_quo"
    assert jobs[2]["config"]["scenario"]["name"] == "abrupt_exit"
    assert all(j["config"]["model"]["horizon_months"] == 48 for j in jobs)
