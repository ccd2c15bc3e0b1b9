"""`handover stress`: space sampling, jobs with common random numbers, end to end, resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments.config import ConfigError, compose, get_dotted, run_config
from experiments.settings import load_settings
from experiments.space import Factor, Space, apply_values
from experiments.stress.discovery import discover
from experiments.stress.robustness import Thresholds, summarize, tidy_outcomes
from experiments.stress.driver import (
    analyse,
    build_jobs,
    metrics_for,
    stress_plan,
    run_stress,
    sample_futures,
    stress_space,
)

CALLS: list[tuple] = []


def toy_stress_job(spec: dict) -> dict:
    """Stand-in simulator: abrupt_exit fails when political will and fiscal space are low.

    Outcomes depend on the future's configuration and on the seed, never on the scenario
    beyond its name, so the planted failure region is known.
    """
    CALLS.append((spec["scenario"], spec["future"], spec["replication"]))
    cfg = spec["config"]
    pw = cfg["country"]["system"]["initial"]["political_will"]
    fiscal = get_dotted(cfg, "country.funders.treasury.fiscal_space")
    noise = np.random.default_rng(spec["seed"]).uniform(0, 0.05)
    abrupt = cfg["scenario"]["name"] == "abrupt_exit"
    bad = abrupt and pw < 0.5 and fiscal < 0.65
    out = {
        "coverage": 0.65 + 0.3 * pw + noise - (0.2 if abrupt else 0.0),
        "gap_months": (6.0 if bad else 0.0) + noise,
        "material_gap": float(bad),
        "baseline_coverage": 0.7,
        "donor_spend": 1000.0 * (0.3 if abrupt else 1.0),
        "national_spend": 500.0 * fiscal,
    }
    months = np.arange(12)
    roll = np.where((months >= 6) & bad, 0.3, 0.7)
    df = pd.DataFrame({"month": months, "coverage_rolling": roll,
                       "donor_spend": 10.0, "national_spend": 5.0})
    return out, df


SMALL = [
    "scenarios=[status_quo,abrupt_exit]",
    "futures=40",
    "replications=2",
    "model.horizon_months=12",
    "model.handover_start=6",
    "discovery.scenario=abrupt_exit",
    "stress=small",
]


def test_space_validation_names_fields():
    node = {"factors": [{"name": "pw", "path": "country.system.initial.political_will",
                         "bounds": [0.1, 0.9]}]}
    assert stress_space(node).names == ["pw"]
    bad = [
        ({"factors": []}, "stress: factors: the list is empty"),
        ({"factors": [{"name": "pw", "path": "x.y", "bounds": [0, 1]}]},
         r"factors\[0\] \(pw\).path"),
        ({"factors": [{"name": "pw", "path": "model.scale", "bounds": [1, 0]}]}, "bounds"),
        ({"factors": [{"name": "coverage", "path": "model.scale", "bounds": [0, 1]}]}, "reserved"),
        ({"factors": [{"name": "a", "path": "model.scale", "bounds": [0, 1], "kind": "x"}]},
         "allowed: real, integer, categorical"),
        ({"factors": [{"name": "a", "path": "model.scale", "bounds": [0, 1], "rnage": 1}]},
         "unknown key"),
    ]
    for node, match in bad:
        with pytest.raises(ConfigError, match=match):
            stress_space(node)


def test_latin_hypercube_is_seeded_and_stratified():
    space = Space("t", (Factor("model.x", name="a", bounds=(0.0, 10.0)),
                        Factor("model.y", name="n", kind="integer", bounds=(1, 4))))
    f1, f2 = sample_futures(space, 8, seed=5), sample_futures(space, 8, seed=5)
    pd.testing.assert_frame_equal(f1, f2)
    assert not sample_futures(space, 8, seed=6).equals(f1)
    # one point in each of the 8 equal strata of [0, 10)
    assert sorted(np.floor(f1["a"] / 1.25).astype(int)) == list(range(8))
    # integers uniform over 1..4: 8 strata -> each value exactly twice
    assert f1["n"].dtype.kind == "i" and sorted(f1["n"]) == [1, 1, 2, 2, 3, 3, 4, 4]


def test_apply_values_sets_paths_scales_and_adds_shocks():
    rc = run_config(compose("stress"))
    space = Space("t", (
        Factor("country.system.initial.political_will", name="pw", bounds=(0, 1)),
        Factor("country.funders.treasury.fiscal_space", name="fs", bounds=(0, 1)),
        Factor("country.arrivals.monthly_mean", name="vol", bounds=(0.5, 2), apply="scale"),
        Factor("scenario.shocks.cut.magnitude", name="cut", bounds=(0, 1)),
    ), shocks=({"name": "cut", "kind": "funding_cut", "magnitude": 0.0},))
    cfg = apply_values(rc, space, {"pw": 0.25, "fs": 0.5, "vol": 2.0, "cut": 0.6})
    assert cfg["country"]["system"]["initial"]["political_will"] == 0.25
    assert get_dotted(cfg, "country.funders.treasury.fiscal_space") == 0.5
    base = rc["country"]["arrivals"]["monthly_mean"]
    assert cfg["country"]["arrivals"]["monthly_mean"] == pytest.approx(2 * base)
    assert cfg["scenario"]["shocks"][-1] == {"kind": "funding_cut",
                                             "magnitude": 0.6}
    assert rc["country"]["arrivals"]["monthly_mean"] == base  # input untouched
    with pytest.raises(ConfigError, match="no key"):
        apply_values(rc, Space("t", (Factor("model.nope", name="z", bounds=(0, 1)),)), {"z": 0.5})


def test_jobs_use_common_random_numbers():
    cfg, valid = load_settings("stress", SMALL)
    settings = stress_plan(valid)
    space = stress_space(cfg["stress"])
    futures = sample_futures(space, 3, 1)
    rcs = {s: run_config(compose("stress", [*SMALL, f"scenario={s}"]))
           for s in settings.scenarios}
    jobs = build_jobs(rcs, space, futures, [11, 12])
    assert len(jobs) == 2 * 3 * 2
    seeds = pd.DataFrame([{k: j[k] for k in ("scenario", "future", "replication", "seed")}
                          for j in jobs])
    # same seed for every scenario and future within a replication
    assert (seeds.groupby("replication")["seed"].nunique() == 1).all()
    assert list(seeds.groupby("replication")["seed"].first()) == [11, 12]
    # each scenario keeps its own plan; futures differ in the sampled values only
    a = [j for j in jobs if j["scenario"] == "abrupt_exit" and j["replication"] == 0]
    assert all(j["config"]["scenario"]["name"] == "abrupt_exit" for j in a)
    assert a[0]["political_will"] == futures.loc[0, "political_will"]


def test_bad_settings_exit_before_anything_is_written(tmp_path):
    for extra, match in [
        (["scenarios=[nope]"], "scenarios: unknown scenario nope"),
        (["criterion=best"], "criterion: unknown 'best'"),
        (["thresholds.gap_metric=coverage"], "gap_metric"),
        (["discovery.scenario=status_quo", "scenarios=[abrupt_exit]"], "discovery.scenario"),
        (["scenario=abrupt_exit"], "scenarios=\\[a,b"),
        (["futures=0"], "futures"),
    ]:
        with pytest.raises(ConfigError, match=match):
            run_stress([*extra, f"output_dir={tmp_path / 'x'}"], toy_stress_job, progress=False)
    assert not (tmp_path / "x").exists()


def test_stress_end_to_end_tables_match_runs_and_resume(tmp_path, capsys):
    out_dir = tmp_path / "stress"
    CALLS.clear()
    out, result, failed = run_stress([*SMALL, f"output_dir={out_dir}"], toy_stress_job,
                                     progress=False)
    assert failed == 0 and out == out_dir
    assert len(CALLS) == 2 * 40 * 2
    for name in ("robustness.csv", "discovery.csv", "futures.csv", "runs.parquet",
                 "outcomes.csv", "trajectories.csv", "timeseries.parquet", "report.html",
                 "summary.json"):
        assert (out / name).exists(), name
    printed = capsys.readouterr().out
    assert "most robust" in printed

    # the tables match a recomputation from the stored runs
    runs = pd.read_parquet(out / "runs.parquet")
    futures = pd.read_csv(out / "futures.csv")
    assert len(runs) == 160 and runs["error"].isna().all()
    tidy = tidy_outcomes(runs.drop(columns=futures.columns.drop("future")))
    th = Thresholds(**compose("stress", SMALL)["thresholds"])  # the thresholds the command used
    expect = summarize(tidy, th, ["coverage", "gap_risk", "gap_months"])
    robust = pd.read_csv(out / "robustness.csv", index_col="scenario")
    pd.testing.assert_frame_equal(
        robust.sort_index(), expect.sort_index(), check_dtype=False, check_exact=False,
        rtol=1e-12,
    )
    # status_quo never fails and covers more: it is the most robust
    assert result.best == "status_quo"
    assert robust.loc["status_quo", "satisficing_share"] == 1.0

    # discovery recovers the planted region of the toy (political will < 0.5, fiscal < 0.65)
    disc = pd.read_csv(out / "discovery.csv")
    box1 = disc[(disc["box"] == 1) & disc["restricted"]].set_index("factor")
    assert set(box1.index) == {"political_will", "fiscal_space"}
    assert 0.45 <= box1.loc["political_will", "high"] <= 0.55
    assert 0.6 <= box1.loc["fiscal_space", "high"] <= 0.7
    abrupt = tidy[tidy["scenario"] == "abrupt_exit"].merge(futures, on="future")
    again = discover(abrupt[futures.columns.drop("future")], abrupt["gap_months"] >= 3)
    assert again.boxes[0].limits["political_will"] == pytest.approx(
        (box1.loc["political_will", "low"], box1.loc["political_will", "high"]))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["findings"][0].startswith("abrupt_exit fails (gap_months ≥ 3) in ")
    assert "where political will is " in summary["findings"][0]
    html = (out / "report.html").read_text()
    assert "gap risk first reaches its peak at month" in html and "data:image/png;base64" in html

    # resume: the second invocation runs no job and writes identical tables
    CALLS.clear()
    before = (out / "robustness.csv").read_text()
    run_stress([*SMALL, f"output_dir={out_dir}"], toy_stress_job, progress=False)
    assert CALLS == []
    assert json.loads((out / "summary.json").read_text())["study"]["ran"] == 0
    assert (out / "robustness.csv").read_text() == before


def test_analyse_is_pure_and_respects_thresholds():
    cfg, valid = load_settings("stress", [*SMALL, "thresholds.coverage_target=0.6"])
    settings = stress_plan(valid)
    space = stress_space(cfg["stress"])
    futures = sample_futures(space, 6, 3)
    rows = []
    for s, cov in (("status_quo", 0.7), ("abrupt_exit", 0.5)):
        for k in range(6):
            rows.append({"scenario": s, "future": k, "replication": 0, "coverage": cov,
                         "gap_months": 0.0, "material_gap": 0.0, "error": None})
    res = analyse(pd.DataFrame(rows), futures, space, settings)
    assert res.robustness.loc["status_quo", "satisficing_share"] == 1.0
    assert res.robustness.loc["abrupt_exit", "satisficing_share"] == 0.0
    assert res.best == "status_quo"
    assert res.findings == ["abrupt_exit fails (gap_months ≥ 3) in 0% of 6 futures."]


def test_cli_exit_status_2_on_bad_input(tmp_path, capsys):
    from experiments.cli import main

    assert main(["stress", "criterion=nope", f"output_dir={tmp_path / 'x'}"]) == 2
    assert "criterion: unknown 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_stress_with_the_simulator(tmp_path):
    """End to end with the real model on a tiny horizon and coarse scale; resumes."""
    pytest.importorskip("experiments.study.jobs")
    out_dir = tmp_path / "real"
    args = ["scenarios=[status_quo,abrupt_exit]", "futures=3", "replications=1",
            "model.horizon_months=40", "model.handover_start=24", "model.scale=200",
            "stress=small", f"output_dir={out_dir}"]
    out, result, failed = run_stress(args, progress=False)
    assert failed == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 6
    # common random numbers: one seed for every scenario and future
    assert runs["seed"].nunique() == 1
    tidy = tidy_outcomes(runs.drop(columns=["cut_size", "political_will", "fiscal_space"]))
    th = Thresholds(**compose("stress", args[:-1])["thresholds"])
    metrics = metrics_for(th, tidy.columns)
    assert {"gap_risk_programme", "gap_risk_vulnerable", "gap_risk_any_group"} <= set(metrics)  # subgroup view
    expect = summarize(tidy, th, metrics)
    robust = pd.read_csv(out / "robustness.csv", index_col="scenario")
    pd.testing.assert_frame_equal(robust.sort_index(), expect.sort_index(), check_dtype=False,
                                  rtol=1e-12)
    run_stress(args, progress=False)
    assert json.loads((out / "summary.json").read_text())["study"]["ran"] == 0
