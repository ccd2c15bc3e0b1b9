"""`handover sweep`: plan parsing, common random numbers, tables, figures, end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import toy_sweep_job

from experiments.config import ConfigError, compose, get_dotted
from experiments.space import apply_values, grid_space
from experiments.settings import load_settings
from experiments.study.runner import replication_seeds
from experiments.sweep.driver import build_jobs, expand_grid, make_plan, run_sweep


def apply_setting(rc, setting):
    """One sweep setting written as the sweep does it (categorical factors)."""
    return apply_values(rc, grid_space({p: [v] for p, v in setting.items()}), setting)


def _plan(*overrides):
    return make_plan(load_settings("sweep", list(overrides))[1])


def test_grid_is_the_cartesian_product_first_path_slowest():
    grid = {"model.scale": [20, 50], "model": {"timely_months": [2, 3, 4]}}
    got = expand_grid(grid)
    assert got == [
        {"model.scale": s, "model.timely_months": t} for s in (20, 50) for t in (2, 3, 4)
    ]


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["grid={model.scale:[20]}", "settings=[{model.scale:20}]"], "grid, settings"),
        (["grid={model.scale:20}"], "grid.model.scale"),
        (["scenarios=[status_quo,no_such_plan]"], "scenarios"),
        (["replications=0"], "replications"),
        (["level=1.5"], "level"),
    ],
)
def test_bad_plans_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        _plan(*overrides)


def test_settings_check_paths_and_kinds():
    rc = {"model": {"scale": 10, "name": "x"},
          "country": {"providers": [{"name": "iom", "cap": 5}]}}
    changed = apply_setting(rc, {"country.providers.iom.cap": 7})
    assert changed["country"]["providers"][0]["cap"] == 7
    assert get_dotted(rc, "country.providers.0.cap") == 5
    assert rc["country"]["providers"][0]["cap"] == 5  # the input is not changed
    with pytest.raises(ConfigError, match="model.scal"):
        apply_setting(rc, {"model.scal": 3})
    with pytest.raises(ConfigError, match="model.scale: expected a number"):
        apply_setting(rc, {"model.scale": "big"})


def test_jobs_use_common_seeds_across_settings_and_scenarios():
    overrides = ["settings=[{model.scale:20},{model.scale:50,model.timely_months:4}]",
                 "scenarios=[status_quo,abrupt_exit]", "replications=3", "seed=11"]
    plan = _plan(*overrides)
    assert plan["params"] == ["model.scale", "model.timely_months"]
    jobs = build_jobs(overrides, plan)
    assert len(jobs) == 2 * 2 * 3
    assert [j["seed"] for j in jobs] == replication_seeds(11, 3) * 4
    assert [(j["setting"], j["scenario"]) for j in jobs[::3]] == [
        (0, "status_quo"), (0, "abrupt_exit"), (1, "status_quo"), (1, "abrupt_exit")]
    assert jobs[0]["model.timely_months"] is None  # not set by setting 0
    assert jobs[0]["config"]["model"]["timely_months"] == 3  # the default stays
    assert jobs[9]["config"]["model"]["scale"] == 50
    assert jobs[9]["config"]["model"]["timely_months"] == 4
    assert jobs[9]["config"]["scenario"]["name"] == "abrupt_exit"


def test_sweep_writes_runs_summary_and_figures(tmp_path):
    out = tmp_path / "sw"
    overrides = ["grid={model.scale:[0,100,300]}", "scenarios=[status_quo,abrupt_exit]",
                 "replications=4", "seed=5", f"output_dir={out}", "executor=serial"]
    path, summary, failed = run_sweep(overrides, job_fn=toy_sweep_job, progress=False)
    assert path == out and failed == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 3 * 2 * 4
    assert list(runs.columns[:6]) == [
        "job", "setting", "model.scale", "scenario", "replication", "seed"]
    # common random numbers: within a replication, settings differ by the exact model effect
    sq = runs[runs["scenario"] == "status_quo"].pivot(index="replication", columns="model.scale",
                                                      values="coverage")
    assert np.allclose(sq[0] - sq[100], 0.5, atol=1e-12, rtol=0)
    assert np.allclose(sq[100] - sq[300], 0.25, atol=1e-12, rtol=0)

    disk = pd.read_csv(out / "summary.csv")
    assert len(disk) == 6 and (disk["n"] == 4).all() and (disk["failed"] == 0).all()
    assert disk["scenario"].tolist() == ["status_quo", "abrupt_exit"] * 3
    row = disk[(disk["model.scale"] == 100) & (disk["scenario"] == "abrupt_exit")].iloc[0]
    sub = runs[(runs["model.scale"] == 100) & (runs["scenario"] == "abrupt_exit")]["coverage"]
    assert row["coverage_mean"] == pytest.approx(sub.mean(), abs=1e-12)
    half = 3.182446305284263 * sub.std(ddof=1) / 2  # t(0.975, 3) * s / sqrt(4)
    assert row["coverage_hi"] - row["coverage_mean"] == pytest.approx(half, rel=1e-9)
    png = out / "figures" / "sweep_model.scale.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((out / "manifest.json").read_text())
    assert record["seed"] == 5 and record["seeds"] == replication_seeds(5, 4)

    # same output_dir again: everything resumes, tables identical
    _, again, _ = run_sweep(overrides, job_fn=toy_sweep_job, progress=False)
    assert pd.read_parquet(out / "runs.parquet").equals(runs)
    assert again.equals(summary)


def test_failed_runs_are_counted_and_summarised(tmp_path):
    out = tmp_path / "sw"
    path, summary, failed = run_sweep(
        ["settings=[{model.scale:-1},{model.scale:10}]", "replications=2", f"output_dir={out}"],
        job_fn=toy_sweep_job, progress=False)
    assert failed == 2
    assert summary[["n", "failed"]].values.tolist() == [[0, 2], [2, 0]]
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["error"].tolist()[:2] == ["ValueError: negative scale"] * 2


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    from experiments.cli import main

    out = tmp_path / "never"
    assert main(["sweep", "grid={model.no_such_key:[1,2]}", f"output_dir={out}"]) == 2
    assert "model.no_such_key" in capsys.readouterr().err
    assert not out.exists()
    assert main(["sweep", "executor=processes", "executor.address=tcp://x:1",
                 f"output_dir={out}"]) == 2
    assert main(["sweep", "scenario=abrupt_exit", "scenarios=[status_quo]",
                 f"output_dir={out}"]) == 2
    assert not out.exists()


def test_handover_sweep_end_to_end_with_the_simulator(tmp_path, capsys):
    """`handover sweep` on the real model, tiny horizon and coarse scale (a few seconds)."""
    pytest.importorskip("experiments.study.jobs")
    from experiments.cli import main
    from experiments.config import run_config
    from experiments.study.jobs import run_job

    out = tmp_path / "sw"
    args = ["sweep", "model.horizon_months=36", "model.scale=50",
            "grid={model.timely_months:[2,4]}",
            "scenarios=[status_quo,abrupt_exit]", "replications=2", "seed=3", f"output_dir={out}"]
    assert main(args) == 0
    assert "results in" in capsys.readouterr().out
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 2 * 2 * 2 and runs["error"].isna().all()
    assert {"coverage", "dropped_cases", "gap_months"} <= set(runs.columns)
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 and (summary["n"] == 2).all()
    assert (out / "figures" / "sweep_model.timely_months.png").exists()
    # a row of the table is exactly what a direct run of that job gives
    row = runs.iloc[-1]
    cfg = compose("sweep", args[1:3] + ["scenario=abrupt_exit", "model.timely_months=4"])
    direct = run_job({"config": run_config(cfg), "seed": int(row["seed"])})
    assert row["seed"] == replication_seeds(3, 2)[1] and row["model.timely_months"] == 4
    assert row["coverage"] == direct["coverage"] and row["dropped_cases"] == direct["dropped_cases"]
